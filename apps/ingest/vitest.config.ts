import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    // Scenarios start a real three-node NATS cluster, child processes and real outages: one file
    // at a time, so their timings do not disturb each other on a small machine.
    globalSetup: ["./test/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
