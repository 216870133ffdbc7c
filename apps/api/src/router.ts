/** The app router: every procedure family, as plain records. `AppRouter` types the client. */
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { appointmentRouter } from "./routers/appointment.ts";
import { auditRouter } from "./routers/audit.ts";
import { authRouter } from "./routers/auth.ts";
import { patientRouter } from "./routers/patient.ts";
import { recordRouter } from "./routers/record.ts";
import { sessionRouter } from "./routers/session.ts";
import { staffRouter } from "./routers/staff.ts";
import { router } from "./trpc.ts";

export const appRouter = router({
  auth: authRouter,
  patient: patientRouter,
  record: recordRouter,
  appointment: appointmentRouter,
  audit: auditRouter,
  staff: staffRouter,
  session: sessionRouter,
});

export type AppRouter = typeof appRouter;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
