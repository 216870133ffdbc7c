/** Dead letters (admins): what the database refused, with its reason; replay one or all. */
import type { RouterOutputs } from "@auditrail/api";
import type { AppContext, View } from "../app.ts";
import { h, replace } from "../dom.ts";
import { formatTime } from "../format.ts";
import { failure } from "./common.ts";

type Letter = RouterOutputs["audit"]["deadLetters"][number];

export function deadLettersView(ctx: AppContext): View {
  const body = h("div", {}, h("p", { role: "status" }, "Loading…"));
  const result = h("p", { role: "status", "aria-live": "polite" });
  const node = h(
    "section",
    { "aria-labelledby": "dl-title" },
    h("h1", { id: "dl-title" }, "Dead letters"),
    h(
      "p",
      { class: "muted" },
      "Entries the database rejected as invalid. Fix the cause, then replay: each is inserted again; those still rejected stay here with the new reason.",
    ),
    result,
    body,
  );
  let disposed = false;

  const replay = (ids?: string[]) => {
    result.textContent = "Replaying…";
    ctx.api.audit.replayDeadLetters
      .mutate(ids ? { ids } : {})
      .then((report) => {
        result.textContent = `Replayed ${report.replayed}; still rejected ${report.failed.length}.`;
        load();
      })
      .catch((error: unknown) => replace(result, failure(ctx, error, "replay dead letters")));
  };
  const row = (l: Letter) =>
    h(
      "tr",
      {},
      h("td", { "data-label": "Failed" }, formatTime(l.failedAt)),
      h("td", { "data-label": "Entry" }, l.summary ? `${l.summary.action} · ${l.summary.entity} ${l.summary.entityId ?? ""}` : l.id),
      h("td", { "data-label": "Reason", class: "reason" }, l.reason),
      h("td", { "data-label": "Attempts", class: "num" }, String(l.attempts)),
      h("td", {}, h("button", { type: "button", class: "secondary", onclick: () => replay([l.id]) }, "Replay")),
    );
  const load = () => {
    ctx.api.audit.deadLetters
      .query({ pending: true, limit: 100 })
      .then((letters) => {
        if (disposed) return;
        if (letters.length === 0) return replace(body, h("p", {}, "No dead letters are waiting."));
        replace(
          body,
          h("p", {}, h("button", { type: "button", onclick: () => replay() }, `Replay all ${letters.length}`)),
          h(
            "div",
            { class: "scroll" },
            h(
              "table",
              { class: "letters" },
              h("thead", {}, h("tr", {}, ...["Failed", "Entry", "Reason", "Attempts", ""].map((c) => h("th", { scope: "col" }, c)))),
              h("tbody", {}, ...letters.map(row)),
            ),
          ),
        );
      })
      .catch((error: unknown) => {
        if (!disposed) replace(body, failure(ctx, error, "see dead letters"));
      });
  };
  load();
  return {
    title: "Dead letters",
    node,
    dispose: () => {
      disposed = true;
    },
  };
}
