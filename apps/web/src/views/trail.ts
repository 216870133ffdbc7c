/**
 * The trail: filters (kept in the URL), a table of one page of entries, keyset paging (the cursor
 * is in the URL too; the way back is kept in the history entry), and export of the current filter.
 * The table has fixed column widths and row heights and keeps the old page on screen until the
 * new one is in, so paging never shifts the layout.
 */
import { type AuditFilter, type Entry, errorMessage } from "../api.ts";
import type { AppContext, View } from "../app.ts";
import { h, replace } from "../dom.ts";
import { FILTER_FIELDS, TIME_FIELDS, filterFromQuery, fromLocalInput, queryOf, toLocalInput } from "../filters.ts";
import { actorOf, formatTime, outcomeClass } from "../format.ts";
import { failure } from "./common.ts";

export const PAGE_SIZE = 50;

/** Cursors of the pages before this one, kept in the history entry (not in the shared URL). */
function previousCursors(): string[] {
  const state: unknown = history.state;
  if (typeof state === "object" && state !== null && Array.isArray((state as { back?: unknown }).back)) {
    return (state as { back: unknown[] }).back.filter((c): c is string => typeof c === "string");
  }
  return [];
}

export function trailView(ctx: AppContext, params: URLSearchParams): View {
  const filter = filterFromQuery(params);
  const cursor = params.get("cursor") ?? undefined;
  const back = previousCursors();

  const form = filterForm(filter, (next) => ctx.navigate(`/?${queryOf(next)}`));
  const status = h("p", { id: "trail-status", class: "status", role: "status", "aria-live": "polite" }, "Loading…");
  const body = h("tbody");
  const table = h(
    "table",
    { class: "trail", "aria-describedby": "trail-status" },
    h("caption", { class: "sr-only" }, "Audit entries, newest first"),
    h("thead", {}, h("tr", {}, ...["Time", "Actor", "Action", "Entity", "Outcome", "Request"].map((c) => h("th", { scope: "col" }, c)))),
    body,
  );
  const newer = h("button", { type: "button", disabled: !cursor }, "← Newer");
  const older = h("button", { type: "button", disabled: true }, "Older →");
  const first = h("button", { type: "button", disabled: !cursor }, "First page");
  const pager = h("nav", { class: "pager", "aria-label": "Pages" }, first, newer, older);
  const exportBar = exportButtons(ctx, filter);
  // A full page's height is reserved while loading; a short last page then gives it back.
  const wrap = h("div", { class: "table-wrap", style: `--rows: ${PAGE_SIZE}` }, table);
  const node = h(
    "section",
    { "aria-labelledby": "trail-title" },
    h("h1", { id: "trail-title" }, "Audit trail"),
    form,
    h("div", { class: "bar" }, status, exportBar),
    wrap,
    pager,
  );

  newer.addEventListener("click", () => {
    const prev = back.at(-1);
    ctx.navigate(`/?${queryOf(filter, { cursor: prev || undefined })}`, { state: { back: back.slice(0, -1) } });
  });
  first.addEventListener("click", () => ctx.navigate(`/?${queryOf(filter)}`));

  let disposed = false;
  ctx.api.audit.list
    .query({ ...filter, limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) })
    .then((page) => {
      if (disposed) return;
      replace(body, page.items.map(row));
      wrap.style.setProperty("--rows", String(Math.max(page.items.length, 1)));
      status.textContent =
        page.items.length === 0 ? "No entries match." : `${page.items.length} entries${cursor ? " (an older page)" : ""}`;
      const next = page.nextCursor;
      if (next) {
        older.disabled = false;
        older.addEventListener("click", () =>
          ctx.navigate(`/?${queryOf(filter, { cursor: next })}`, { state: { back: [...back, cursor ?? ""] } }),
        );
      }
    })
    .catch((error: unknown) => {
      if (disposed) return;
      replace(node, failure(ctx, error, "read the audit trail"));
    });

  return {
    title: "Audit trail",
    node,
    dispose: () => {
      disposed = true;
    },
  };
}

function row(e: Entry): HTMLTableRowElement {
  const entity = e.entityId ? `${e.entity} ${e.entityId}` : e.entity;
  return h(
    "tr",
    {},
    h(
      "td",
      { "data-label": "Time" },
      h("a", { href: `/entry/${encodeURIComponent(e.id)}`, title: `Open this entry (${e.occurredAt})` }, formatTime(e.occurredAt, false)),
    ),
    h("td", { "data-label": "Actor", title: actorOf(e) }, actorOf(e)),
    h("td", { "data-label": "Action", title: e.action }, e.action),
    h("td", { "data-label": "Entity", title: entity }, entity),
    h("td", { "data-label": "Outcome" }, h("span", { class: outcomeClass(e.outcome) }, e.outcome)),
    h(
      "td",
      { "data-label": "Request", title: e.requestId ?? "" },
      e.requestId ? h("a", { href: `/?${queryOf({ requestId: e.requestId })}`, title: "Everything this request did" }, e.requestId) : "—",
    ),
  );
}

function filterForm(filter: AuditFilter, apply: (next: AuditFilter) => void): HTMLFormElement {
  const inputs = new Map<keyof AuditFilter, HTMLInputElement>();
  const field = (key: keyof AuditFilter, label: string, type: "text" | "datetime-local", placeholder?: string) => {
    const id = `filter-${key}`;
    const value = type === "text" ? (filter[key] ?? "") : toLocalInput(filter[key]);
    const input = h("input", { id, name: key, type, value, placeholder, autocomplete: "off", spellcheck: "false" });
    inputs.set(key, input);
    return h("div", { class: "field" }, h("label", { for: id }, label), input);
  };
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter the trail" },
    ...FILTER_FIELDS.map((f) => field(f.key, f.label, "text", "placeholder" in f ? f.placeholder : undefined)),
    ...TIME_FIELDS.map((f) => field(f.key, f.label, "datetime-local")),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit" }, "Apply filters"),
      h("button", { type: "button", class: "secondary", onclick: () => apply({}) }, "Clear"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next: AuditFilter = {};
    for (const [key, input] of inputs) {
      const value = input.type === "datetime-local" ? fromLocalInput(input.value) : input.value.trim();
      if (value) next[key] = value;
    }
    apply(next);
  });
  return form;
}

/** Downloads the whole current filter from the export route (bearer token in a header, so not a plain link). */
function exportButtons(ctx: AppContext, filter: AuditFilter): HTMLElement {
  const note = h("span", { class: "muted", role: "status" });
  const download = async (format: "ndjson" | "csv") => {
    note.textContent = `Exporting ${format.toUpperCase()}…`;
    try {
      const res = await fetch(`/audit/export?${queryOf(filter, { format })}`, {
        headers: { authorization: `Bearer ${ctx.session.token}` },
      });
      if (!res.ok) throw new Error(`${res.status} ${(await res.text()).slice(0, 200)}`);
      const url = URL.createObjectURL(await res.blob());
      const a = h("a", { href: url, download: `audit-trail.${format}` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      note.textContent = "";
    } catch (error) {
      note.textContent = `Export failed: ${errorMessage(error)}`;
    }
  };
  return h(
    "div",
    { class: "export", role: "group", "aria-label": "Export the current filter" },
    h("span", {}, "Export:"),
    h("button", { type: "button", class: "secondary", onclick: () => void download("ndjson") }, "NDJSON"),
    h("button", { type: "button", class: "secondary", onclick: () => void download("csv") }, "CSV"),
    note,
  );
}
