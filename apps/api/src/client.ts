/**
 * A typed client for the clinic API: `createClinicClient(baseUrl, token?)` → every procedure with
 * its zod-derived input and output types. Queries are sent by POST (tRPC's method override).
 */
import { createTRPCClient, httpLink } from "@trpc/client";
import type { AppRouter } from "./router.ts";

export function createClinicClient(baseUrl: string, token?: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${baseUrl}/trpc`,
        // Queries by POST: their input goes in the body, so a large input is not cut at the URL
        // length limit (the server allows the override).
        methodOverride: "POST",
        headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
      }),
    ],
  });
}

export type ClinicClient = ReturnType<typeof createClinicClient>;
