/** The audit writers' health (audit.health), refreshed every 2 s while the page is open. */
import type { RouterOutputs } from "@auditrail/api";
import type { AppContext, View } from "../app.ts";
import { h, replace } from "../dom.ts";
import { canReplayDeadLetters } from "../session.ts";
import { failure } from "./common.ts";

type Health = RouterOutputs["audit"]["health"];
const REFRESH_MS = 2_000;

const COLUMNS = [
  ["Queued", "queued"],
  ["In flight", "inFlight"],
  ["Spool backlog", "spoolBacklog"],
  ["Written", "written"],
  ["Written/s", "writtenPerSecond"],
  ["Retries", "retried"],
  ["Dead letters", "deadLettered"],
  ["Dropped", "dropped"],
] as const;

export function healthView(ctx: AppContext): View {
  const body = h("div", { "aria-live": "polite" }, h("p", { role: "status" }, "Loading…"));
  const node = h("section", { "aria-labelledby": "health-title" }, h("h1", { id: "health-title" }, "Writer health"), body);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;

  const draw = (health: Health) => {
    const cell = (value: number | null) =>
      h("td", { class: "num" }, value === null ? "—" : Number.isInteger(value) ? String(value) : value.toFixed(1));
    replace(
      body,
      h(
        "div",
        { class: "scroll" },
        h(
          "table",
          { class: "health" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Writer"), ...COLUMNS.map(([label]) => h("th", { scope: "col" }, label)))),
          h(
            "tbody",
            {},
            ...health.writers.map((w) => h("tr", {}, h("th", { scope: "row" }, w.mode), ...COLUMNS.map(([, key]) => cell(w[key])))),
          ),
        ),
      ),
      h(
        "p",
        {},
        `Dead letters waiting for replay: ${health.pendingDeadLetters}. `,
        canReplayDeadLetters(ctx.session.user.role) ? h("a", { href: "/dead-letters" }, "Open the dead letters") : null,
      ),
      h("p", { class: "muted" }, `Updated ${new Date().toLocaleTimeString()}; refreshed every ${REFRESH_MS / 1000} s.`),
    );
  };
  const load = () => {
    ctx.api.audit.health
      .query()
      .then((health) => {
        if (disposed) return;
        draw(health);
        timer = setTimeout(load, REFRESH_MS);
      })
      .catch((error: unknown) => {
        if (!disposed) replace(body, failure(ctx, error, "see the writers' health"));
      });
  };
  load();
  return {
    title: "Writer health",
    node,
    dispose: () => {
      disposed = true;
      clearTimeout(timer);
    },
  };
}
