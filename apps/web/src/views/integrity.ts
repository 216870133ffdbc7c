/**
 * Integrity: "Verify now" runs audit.verify (auditors) and shows its verdict — OK, or each
 * problem it reports — with every figure the report carries, whatever the API's version adds.
 */
import type { RouterOutputs } from "@auditrail/api";
import type { AppContext, View } from "../app.ts";
import { h, replace } from "../dom.ts";
import { failure } from "./common.ts";

type Report = RouterOutputs["audit"]["verify"];

function scalar(value: unknown): value is string | number | boolean {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

/**
 * The newest anchored seal of the report (any trail): its number, time, and whether its signature
 * checked out — the report lists only seals verified against the public key, and a bad or
 * unanchored seal shows up as a `seal-*` problem.
 */
function newestSeal(report: Report): HTMLElement {
  const newest = [...report.seals].sort((a, b) => Date.parse(b.time) - Date.parse(a.time))[0];
  if (!newest) return h("p", { class: "seal muted" }, "No signed seal yet.");
  const signatureOk = !report.problems.some((p) => p.kind.startsWith("seal-"));
  return h(
    "dl",
    { class: "facts seal" },
    h("dt", {}, "newest seal"),
    h("dd", {}, `#${newest.number} (${newest.trail})`),
    h("dt", {}, "sealed at"),
    h("dd", {}, new Date(newest.time).toLocaleString()),
    h("dt", {}, "signature"),
    h("dd", {}, signatureOk ? "✓ ok" : "✗ not ok (see the seal problems below)"),
  );
}

function verdict(report: Report): HTMLElement {
  const figures = Object.entries(report).filter(([key, value]) => key !== "ok" && scalar(value));
  // Anything else the report carries (per-stream details…), shown as it comes; seals have their own block.
  const details = Object.entries(report).filter(
    ([key, value]) => key !== "problems" && key !== "seals" && !scalar(value) && value !== null && value !== undefined,
  );
  const problems: unknown[] = [...report.problems];
  return h(
    "div",
    { class: `verdict ${report.ok ? "good" : "bad"}`, role: "status" },
    h("p", { class: "big" }, report.ok ? "✓ Intact: every chain verifies." : `✗ Broken: ${problems.length} problem(s) found.`),
    h("dl", { class: "facts" }, ...figures.flatMap(([key, value]) => [h("dt", {}, key), h("dd", {}, String(value))])),
    newestSeal(report),
    ...details.map(([key, value]) => h("div", {}, h("h2", {}, key), h("pre", {}, JSON.stringify(value, null, 2)))),
    problems.length === 0
      ? null
      : h("ol", { class: "problems" }, ...problems.map((p) => h("li", {}, h("pre", {}, JSON.stringify(p, null, 2))))),
    h("p", { class: "muted" }, `Checked ${new Date().toLocaleString()}.`),
  );
}

export function integrityView(ctx: AppContext): View {
  const result = h("div", { "aria-live": "polite" });
  const run = h("button", { type: "button" }, "Verify now");
  run.addEventListener("click", () => {
    run.disabled = true;
    replace(result, h("p", { role: "status" }, "Verifying…"));
    ctx.api.audit.verify
      .query()
      .then((report) => replace(result, verdict(report)))
      .catch((error: unknown) => replace(result, failure(ctx, error, "verify the audit trail")))
      .finally(() => {
        run.disabled = false;
      });
  });
  const node = h(
    "section",
    { "aria-labelledby": "integrity-title" },
    h("h1", { id: "integrity-title" }, "Integrity"),
    h(
      "p",
      { class: "muted" },
      "Checks every writer's hash chain in what is stored: any row modified, deleted, reordered or cut off the end is reported. Auditors only.",
    ),
    run,
    result,
  );
  return { title: "Integrity", node };
}
