/**
 * A typed client for the clinic API: `createClinicClient(baseUrl, token?)` → every procedure with
 * its zod-derived input and output types.
 */
import { createTRPCClient, httpLink } from "@trpc/client";
import type { AppRouter } from "./router.ts";

export function createClinicClient(baseUrl: string, token?: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${baseUrl}/trpc`,
        headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
      }),
    ],
  });
}

export type ClinicClient = ReturnType<typeof createClinicClient>;
