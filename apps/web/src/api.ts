/**
 * The typed tRPC client for the clinic API (types from @auditrail/api's AppRouter): queries and
 * mutations batched over HTTP, subscriptions (the live tail) over SSE. The `eventsource` ponyfill
 * lets the SSE request carry the bearer token in a header, where the browser's EventSource cannot.
 */
import type { AppRouter, RouterInputs, RouterOutputs } from "@auditrail/api";
import { TRPCClientError, createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from "@trpc/client";
import { EventSource } from "eventsource";

export type Api = ReturnType<typeof createApi>;
export type Entry = RouterOutputs["audit"]["list"]["items"][number];
export type AuditFilter = Omit<RouterInputs["audit"]["list"], "cursor" | "limit">;

export function createApi(token: string | undefined) {
  const headers = (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});
  const url = new URL("/trpc", location.origin).toString();
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({
          url,
          EventSource,
          eventSourceOptions: { fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...headers() } }) },
        }),
        false: httpBatchLink({ url, headers }),
      }),
    ],
  });
}

/** The tRPC error code of a failed call (FORBIDDEN, UNAUTHORIZED, …), if it is one. */
export function errorCode(error: unknown): string | undefined {
  return error instanceof TRPCClientError ? (error.data as { code?: string } | undefined)?.code : undefined;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
