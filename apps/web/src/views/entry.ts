/**
 * One entry: who, what, when, from where; the change as a diff (field, before → after) and the
 * full before / after values, with redacted fields marked; and the request's other entries.
 */
import type { Entry } from "../api.ts";
import type { AppContext, View } from "../app.ts";
import { h, replace } from "../dom.ts";
import { queryOf } from "../filters.ts";
import { REDACTED, actorOf, formatTime, outcomeClass } from "../format.ts";
import { failure } from "./common.ts";

interface Change {
  readonly path: string;
  readonly from?: unknown;
  readonly to?: unknown;
}

function changesOf(diff: unknown): Change[] {
  if (!Array.isArray(diff)) return [];
  return diff.filter((c): c is Change => typeof c === "object" && c !== null && typeof (c as { path?: unknown }).path === "string");
}

/** A JSON value as text, with every redacted value shown as a marked "redacted" badge. */
export function jsonNode(value: unknown, indent = 0): (Node | string)[] {
  const pad = "  ".repeat(indent);
  if (value === REDACTED) return [h("mark", { class: "redacted", title: "Redacted by the audit plugin: never stored" }, "redacted")];
  if (Array.isArray(value)) {
    if (value.length === 0) return ["[]"];
    return ["[\n", ...value.flatMap((v, i) => [`${pad}  `, ...jsonNode(v, indent + 1), i < value.length - 1 ? ",\n" : "\n"]), `${pad}]`];
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return ["{}"];
    return [
      "{\n",
      ...entries.flatMap(([k, v], i) => [
        `${pad}  ${JSON.stringify(k)}: `,
        ...jsonNode(v, indent + 1),
        i < entries.length - 1 ? ",\n" : "\n",
      ]),
      `${pad}}`,
    ];
  }
  return [value === undefined ? "—" : JSON.stringify(value)];
}

function valueCell(change: Change, key: "from" | "to"): HTMLTableCellElement {
  if (!(key in change)) return h("td", { class: "muted" }, key === "from" ? "(added)" : "(removed)");
  return h("td", {}, h("code", {}, ...jsonNode(change[key])));
}

export function entryView(ctx: AppContext, id: string): View {
  const node = h(
    "section",
    { "aria-labelledby": "entry-title" },
    h("h1", { id: "entry-title" }, "Entry"),
    h("p", { role: "status" }, "Loading…"),
  );
  let disposed = false;
  ctx.api.audit.get
    .query({ id })
    .then(async (e) => {
      if (disposed) return;
      replace(node, ...entryBody(e));
      if (!e.requestId) return;
      const others = await ctx.api.audit.list.query({ requestId: e.requestId, limit: 50 });
      if (disposed) return;
      const list = node.querySelector("#request-entries");
      if (list)
        replace(
          list,
          ...others.items.map((o) =>
            h(
              "li",
              {},
              o.id === e.id
                ? h("strong", {}, `${o.action} (this entry)`)
                : h("a", { href: `/entry/${encodeURIComponent(o.id)}` }, `${o.action} · ${o.outcome}`),
            ),
          ),
        );
    })
    .catch((error: unknown) => {
      if (!disposed) replace(node, failure(ctx, error, "read this audit entry"));
    });
  return {
    title: "Entry",
    node,
    dispose: () => {
      disposed = true;
    },
  };
}

function entryBody(e: Entry): (HTMLElement | null)[] {
  const changes = changesOf(e.diff);
  const fact = (label: string, value: Node | string) => [h("dt", {}, label), h("dd", {}, value)];
  return [
    h("p", {}, h("a", { href: "/" }, "← The trail")),
    h("h1", { id: "entry-title" }, `${e.action} `, h("span", { class: outcomeClass(e.outcome) }, e.outcome)),
    h(
      "dl",
      { class: "facts" },
      ...fact("Time", formatTime(e.occurredAt)),
      ...fact("Actor", actorOf(e)),
      ...fact("Entity", e.entityId ? `${e.entity} ${e.entityId}` : e.entity),
      ...fact("Procedure", e.path ?? "—"),
      ...fact("Duration", e.durationMs === null ? "—" : `${e.durationMs.toFixed(1)} ms`),
      ...fact("Request", e.requestId ? h("a", { href: `/?${queryOf({ requestId: e.requestId })}` }, e.requestId) : "—"),
      ...fact("IP", e.ip ?? "—"),
      ...fact("User agent", e.userAgent ?? "—"),
      ...fact("Entry id", e.id),
    ),
    h("h2", {}, "Changes"),
    changes.length === 0
      ? h("p", { class: "muted" }, "No field changed (or this entry records an access, not a change).")
      : h(
          "table",
          { class: "diff" },
          h(
            "thead",
            {},
            h("tr", {}, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "Before"), h("th", { scope: "col" }, "After")),
          ),
          h(
            "tbody",
            {},
            ...changes.map((c) =>
              h(
                "tr",
                { class: c.from === REDACTED || c.to === REDACTED ? "is-redacted" : null },
                h("th", { scope: "row" }, c.path),
                valueCell(c, "from"),
                valueCell(c, "to"),
              ),
            ),
          ),
        ),
    h(
      "div",
      { class: "sides" },
      h("div", {}, h("h2", {}, "Before"), h("pre", {}, ...jsonNode(e.before ?? undefined))),
      h("div", {}, h("h2", {}, "After"), h("pre", {}, ...jsonNode(e.after ?? undefined))),
    ),
    e.metadata === null ? null : h("div", {}, h("h2", {}, "Metadata"), h("pre", {}, ...jsonNode(e.metadata))),
    h("h2", {}, "This request's entries"),
    e.requestId
      ? h("ul", { id: "request-entries", class: "plain" }, h("li", {}, "Loading…"))
      : h("p", { class: "muted" }, "No request id."),
  ];
}
