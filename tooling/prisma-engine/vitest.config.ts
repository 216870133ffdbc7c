import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Builds dist/ once: the tests run the real prisma CLI against bin/schema-engine.
    globalSetup: ["./test/global-setup.ts"],
    // Every test spawns the prisma CLI (and the engine) several times.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
