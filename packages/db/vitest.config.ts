import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    // Suites create real databases and migrate them through the prisma CLI.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
