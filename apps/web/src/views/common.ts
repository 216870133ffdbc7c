/** What views show when a call fails: the refusal screen for FORBIDDEN, sign-in again for UNAUTHORIZED. */
import { errorCode, errorMessage } from "../api.ts";
import type { AppContext } from "../app.ts";
import { h } from "../dom.ts";

export function failure(ctx: AppContext, error: unknown, what: string): HTMLElement {
  const code = errorCode(error);
  if (code === "UNAUTHORIZED") {
    queueMicrotask(() => ctx.signOut());
    return h("p", { role: "alert" }, "Your session has ended. Sign in again.");
  }
  if (code === "FORBIDDEN") {
    return h(
      "section",
      { class: "refusal card", role: "alert", "aria-labelledby": "refusal-title" },
      h("h1", { id: "refusal-title" }, "Not allowed"),
      h("p", {}, `Your role (${ctx.session.user.role}) may not ${what}.`),
      h("p", { class: "muted" }, errorMessage(error)),
      h("p", {}, "This attempt has been recorded in the audit trail."),
    );
  }
  return h("p", { class: "error", role: "alert" }, `Could not ${what}: ${errorMessage(error)}`);
}
