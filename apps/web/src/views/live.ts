/**
 * Live tail: entries as they are written (audit.tail, a subscription over SSE), newest on top,
 * the last 200 kept. Pause holds new entries aside (counted) and Resume shows them.
 */
import type { Entry } from "../api.ts";
import type { AppContext, View } from "../app.ts";
import { h, replace } from "../dom.ts";
import { filterFromQuery, queryOf } from "../filters.ts";
import { actorOf, formatTime, outcomeClass } from "../format.ts";
import { failure } from "./common.ts";

const KEEP = 200;

export function liveView(ctx: AppContext, params: URLSearchParams): View {
  const filter = filterFromQuery(params);
  const shown: Entry[] = [];
  const held: Entry[] = [];
  let paused = false;

  const list = h("ol", { class: "live", "aria-label": "New entries, newest first" });
  const state = h("span", { class: "status", role: "status" }, "Connecting…");
  const pause = h("button", { type: "button", "aria-pressed": "false" }, "Pause");
  const action = h("input", { id: "live-action", value: filter.action ?? "", placeholder: "e.g. patient.*" });
  const actor = h("input", { id: "live-actor", value: filter.actorId ?? "" });
  const form = h(
    "form",
    { class: "filters compact", role: "search", "aria-label": "Filter the live tail" },
    h("div", { class: "field" }, h("label", { for: "live-action" }, "Action"), action),
    h("div", { class: "field" }, h("label", { for: "live-actor" }, "Actor id"), actor),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Follow")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = { ...filter, action: action.value.trim() || undefined, actorId: actor.value.trim() || undefined };
    ctx.navigate(`/live?${queryOf(next)}`);
  });

  const item = (e: Entry) =>
    h(
      "li",
      {},
      h("a", { href: `/entry/${encodeURIComponent(e.id)}` }, formatTime(e.occurredAt)),
      " ",
      h("span", { class: "action" }, e.action),
      " ",
      h("span", { class: outcomeClass(e.outcome) }, e.outcome),
      " ",
      h("span", { class: "muted" }, `${e.entityId ? `${e.entity} ${e.entityId}` : e.entity} · ${actorOf(e)}`),
    );
  const show = () => {
    replace(list, ...shown.map(item));
    pause.textContent = paused ? (held.length ? `Resume (${held.length} new)` : "Resume") : "Pause";
  };
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    if (!paused) shown.unshift(...held.splice(0).reverse());
    shown.length = Math.min(shown.length, KEEP);
    show();
  });

  const node = h(
    "section",
    { "aria-labelledby": "live-title" },
    h("h1", { id: "live-title" }, "Live tail"),
    form,
    h("div", { class: "bar" }, state, pause),
    list,
  );

  const sub = ctx.api.audit.tail.subscribe(filter, {
    onStarted: () => {
      state.textContent = "Following: new entries appear here as they are written.";
    },
    onData: (entry) => {
      if (paused) {
        held.push(entry);
        if (held.length > KEEP) held.shift();
      } else {
        shown.unshift(entry);
        shown.length = Math.min(shown.length, KEEP);
      }
      show();
    },
    onConnectionStateChange: (s) => {
      if (s.state === "connecting" && s.error) state.textContent = "Reconnecting…";
    },
    onError: (error) => replace(node, failure(ctx, error, "follow the audit trail")),
  });
  return { title: "Live tail", node, dispose: () => sub.unsubscribe() };
}
