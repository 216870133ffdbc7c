/**
 * A typed client for the clinic API: `createClinicClient(baseUrl, token?)` → every procedure with
 * its zod-derived input and output types. Queries are sent by POST (tRPC's method override).
 * Subscriptions (the live tail) go over SSE with
 * httpSubscriptionLink; the `eventsource` ponyfill carries the bearer token in a header (a
 * browser's EventSource cannot, and a token in the URL would land in access logs).
 */
import { createTRPCClient, httpLink, httpSubscriptionLink, splitLink } from "@trpc/client";
import { EventSource } from "eventsource";
import type { AppRouter } from "./router.ts";

export function createClinicClient(baseUrl: string, token?: string) {
  const headers = (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({
          url: `${baseUrl}/trpc`,
          EventSource,
          eventSourceOptions: {
            fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...headers() } }),
          },
        }),
        false: httpLink({
          url: `${baseUrl}/trpc`,
          // Queries by POST: their input goes in the body, so a large input is not cut at the URL
          // length limit (the server allows the override).
          methodOverride: "POST",
          headers,
        }),
      }),
    ],
  });
}

export type ClinicClient = ReturnType<typeof createClinicClient>;
