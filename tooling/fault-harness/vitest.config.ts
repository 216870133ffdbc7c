import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The writer child process runs the built dist/writer-child.js: build it once per run.
    globalSetup: ["./test/global-setup.ts"],
    // Scenarios run real outages (10 s), real databases and child processes: one file at a time,
    // so their timings do not disturb each other on a small machine.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
