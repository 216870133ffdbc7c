/** @auditrail/api — the clinic server: its router type for typed clients, and the app factory. */
export { appRouter } from "./router.ts";
export type { AppRouter, RouterInputs, RouterOutputs } from "./router.ts";
export { createApp } from "./server.ts";
export { openSealing } from "./sealing.ts";
export { openWriters } from "./writers.ts";
export type { ModeWriters, PooledWriterOptions, SharedWriterOptions } from "./writers.ts";
export type { SealServices, Sealing } from "./sealing.ts";
export type { App, AppOptions, Health, ShutdownReport } from "./server.ts";
export type { Services } from "./context.ts";
