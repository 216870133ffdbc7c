import { defineConfig } from "vite";

// `vite` (dev) proxies the API started by `pnpm start`; `vite build` writes dist/, which the API serves at /.
export default defineConfig({
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  server: {
    proxy: {
      "/trpc": "http://127.0.0.1:3000",
      "/audit/export": "http://127.0.0.1:3000",
    },
  },
});
