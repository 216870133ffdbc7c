/**
 * The audit viewer in headless Chromium against a real API (SQLite, and PostgreSQL when
 * TEST_DATABASE_URL is set): sign in, filter by actor (in the URL), open an entry and see its diff
 * with the SSN redacted, the live tail showing a mutation made through the API within 5 s (and
 * holding entries while paused), the refusal screen for a receptionist (and that attempt in the
 * trail), export whose lines match the table, paging without layout shift, and a phone-width view.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { runRawSql, testProviders } from "@auditrail/db/testing";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Browser, launchBrowser } from "./browser.ts";
import { type Role, type TestServer, startServer } from "./server.ts";

const SCREENSHOT = fileURLToPath(new URL("../../../docs/viewer.png", import.meta.url));
const SSN = "321-54-9876";

describe.each(testProviders())("the audit viewer in Chromium on %s", (provider) => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let dentistId: string;
  let patientId: string;

  const signIn = async (role: Role) => {
    const { email, password } = server.login(role);
    await page.goto(`${server.base}/`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByLabel("Password").press("Enter"); // by keyboard
  };
  const signOut = async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Audit viewer" }).waitFor();
  };
  /** Entry ids of the table's rows, top to bottom. */
  const tableIds = async () =>
    (
      await page.locator("table.trail tbody tr td:first-child a").evaluateAll((links) => links.map((a) => a.getAttribute("href") ?? ""))
    ).map((href) => decodeURIComponent(href.replace("/entry/", "")));

  beforeAll(async () => {
    server = await startServer(provider);
    const dentist = await server.as("dentist");
    dentistId = (await dentist.auth.me.query()).id;
    const p = await dentist.patient.create.mutate({ firstName: "Greta", lastName: "Hansen", dateOfBirth: "1980-04-02", ssn: SSN });
    patientId = p.id;
    await dentist.patient.update.mutate({ id: p.id, lastName: "Hansen-Berg", ssn: "321-54-0000" });
    // Some refusals for the trail to show: a role without audit access, a malformed input.
    await (await server.as("hygienist")).audit.list.query({}).catch(() => undefined);
    await dentist.patient.create
      .mutate({ firstName: "Bad", lastName: "Input", dateOfBirth: "1980-01-01", ssn: "12-34" })
      .catch(() => undefined);
    await server.flush();
    browser = await launchBrowser();
    page = await browser.context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("signs in by keyboard, filters by actor (kept in the URL) and shows only that actor's entries", async () => {
    await signIn("auditor");
    await page.getByRole("heading", { name: "Audit trail" }).waitFor();
    await page.locator("table.trail tbody tr").first().waitFor();
    if (provider === "sqlite") await page.screenshot({ path: SCREENSHOT });
    await page.getByLabel("Actor id").fill(dentistId);
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL((url) => url.searchParams.get("actorId") === dentistId);
    await page
      .getByRole("status")
      .filter({ hasText: /entries/ })
      .waitFor();
    const actors = await page.locator("table.trail tbody td[data-label=Actor]").allTextContents();
    expect(actors.length).toBeGreaterThanOrEqual(3);
    expect(actors.every((a) => a.includes(dentistId))).toBe(true);
    // The URL is the view: opened afresh, it shows the same rows.
    const ids = await tableIds();
    await page.reload();
    await page.locator("table.trail tbody tr").first().waitFor();
    expect(await tableIds()).toEqual(ids);
    // A time range: up to a moment before any of it happened leaves nothing.
    await page.getByLabel("To", { exact: true }).fill("2001-01-01T00:00");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL((url) => url.searchParams.has("to"));
    expect(Date.parse(new URL(page.url()).searchParams.get("to") ?? "")).toBeLessThan(Date.parse("2001-01-02T00:00:00Z"));
    await page.getByText("No entries match.").waitFor();
    expect(new URL(page.url()).searchParams.get("actorId")).toBe(dentistId);
  });

  it("opens an entry and shows its diff, the SSN marked redacted and never shown, and links to the request's entries", async () => {
    await page.goto(`${server.base}/?action=patient.update&entityId=${patientId}`);
    await page.locator("table.trail tbody tr td:first-child a").first().click();
    await page.getByRole("heading", { name: /patient\.update/ }).waitFor();
    const diff = page.locator("table.diff");
    await expect.poll(() => diff.locator("tr", { hasText: "lastName" }).textContent()).toMatch(/"Hansen".*"Hansen-Berg"/);
    const ssnRow = diff.locator("tr", { has: page.locator("th", { hasText: /^ssn$/ }) });
    expect(await ssnRow.locator("mark.redacted").count()).toBe(2);
    expect(await page.content()).not.toContain("321-54");
    if (provider === "sqlite") await page.screenshot({ path: SCREENSHOT.replace(".png", "-entry.png"), fullPage: true });
    await page.locator("#request-entries li").filter({ hasText: "this entry" }).waitFor();
    await page
      .getByRole("link", { name: /^[\w-]{20,}$/ })
      .first()
      .click(); // the request id
    await page.waitForURL((url) => url.searchParams.has("requestId"));
    await page.locator("table.trail tbody tr").first().waitFor();
    expect(await page.locator("table.trail tbody td[data-label=Action]").allTextContents()).toContain("patient.update");
  });

  it("exports the current filter: the downloaded NDJSON and CSV hold exactly the table's entries, in order", async () => {
    await page.goto(`${server.base}/?actorId=${dentistId}`);
    await page.locator("table.trail tbody tr").first().waitFor();
    const ids = await tableIds();
    const [ndjson] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "NDJSON" }).click()]);
    expect(ndjson.suggestedFilename()).toBe("audit-trail.ndjson");
    const lines = (await readFile(await ndjson.path(), "utf8")).trim().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(ids);
    const [csv] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "CSV" }).click()]);
    const rows = (await readFile(await csv.path(), "utf8")).trim().split("\r\n");
    expect(rows[0]?.startsWith("id,occurredAt,actorId")).toBe(true);
    expect(rows.slice(1).map((r) => r.split(",")[0])).toEqual(ids);
  });

  it("works by keyboard: Enter applies a filter, Tab reaches the entries, Enter opens one", async () => {
    await page.goto(`${server.base}/`);
    await page.locator("table.trail tbody tr").first().waitFor();
    await page.getByLabel("Action").focus();
    await page.keyboard.type("patient.update");
    await page.keyboard.press("Enter");
    await page.waitForURL((url) => url.searchParams.get("action") === "patient.update");
    await page.locator("table.trail tbody tr").first().waitFor();
    await page.getByLabel("Action").focus();
    let onEntryLink = false;
    for (let i = 0; i < 40 && !onEntryLink; i++) {
      await page.keyboard.press("Tab");
      onEntryLink = await page.evaluate(() => document.activeElement?.matches("table.trail a[href^='/entry/']") ?? false);
    }
    expect(onEntryLink).toBe(true);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: /^patient\.update/ }).waitFor();
  });

  it("pages with the cursor without moving the pager, and back again", async () => {
    const writerClient = await server.as("receptionist");
    // Enough entries for three pages of 50: receptionist reads of the patient list.
    for (let i = 0; i < 120; i++) await writerClient.patient.list.query({ limit: 1 });
    await server.flush();
    await page.goto(`${server.base}/?action=patient.list`);
    await page.locator("table.trail tbody tr").nth(49).waitFor();
    const older = page.getByRole("button", { name: "Older →" });
    // Where the pager sits on the page (not in the viewport: clicking scrolls it into view).
    const top = () => older.evaluate((el) => el.getBoundingClientRect().top + window.scrollY);
    const before = await top();
    const first = await tableIds();
    await older.click();
    await page.waitForURL((url) => url.searchParams.has("cursor"));
    await expect.poll(async () => (await tableIds())[0]).not.toBe(first[0]);
    expect(await top()).toBe(before);
    const second = await tableIds();
    expect(second).toHaveLength(50);
    expect(second.filter((id) => first.includes(id))).toEqual([]);
    await page.getByRole("button", { name: "← Newer" }).click();
    await expect.poll(tableIds).toEqual(first);
  });

  it("shows a mutation made through the API in the live tail within 5 s (a bound that holds on a loaded 2-core machine), and holds entries while paused", async () => {
    await page.goto(`${server.base}/live?action=patient.*`);
    await page.getByText("Following").waitFor();
    const dentist = await server.as("dentist");
    const sent = Date.now();
    await dentist.patient.update.mutate({ id: patientId, phone: "+1 555 0142" });
    const item = page.locator("ol.live li", { hasText: patientId });
    await item.first().waitFor({ timeout: 5_000 });
    expect(Date.now() - sent).toBeLessThan(5_000);
    expect(await item.first().textContent()).toContain("patient.update");

    await page.getByRole("button", { name: "Pause" }).click();
    await dentist.patient.update.mutate({ id: patientId, phone: "+1 555 0143" });
    await page.getByRole("button", { name: "Resume (1 new)" }).waitFor({ timeout: 5_000 });
    expect(await item.count()).toBe(1);
    await page.getByRole("button", { name: "Resume (1 new)" }).click();
    await expect.poll(() => item.count()).toBe(2);
  });

  it("verifies the trail on demand for an auditor: intact, then a rewritten row reported; health shows the writers", async () => {
    await page.goto(`${server.base}/integrity`);
    await server.seal();
    await page.getByRole("button", { name: "Verify now" }).click();
    await page.getByText("Intact: every chain verifies.").waitFor();
    // Rewrite one stored entry behind the API's back: the verdict names the break.
    const victim = await server.db.prisma.auditEntry.findFirstOrThrow({ where: { action: "patient.create", outcome: "ok" } });
    await runRawSql(server.db.url, `UPDATE "AuditEntry" SET "actorId" = 'someone-else' WHERE "id" = '${victim.id}'`);
    await page.getByRole("button", { name: "Verify now" }).click();
    await page.getByText(/Broken: 1 problem\(s\) found/).waitFor();
    expect(await page.locator(".problems").textContent()).toContain(victim.id);
    await runRawSql(server.db.url, `UPDATE "AuditEntry" SET "actorId" = '${victim.actorId}' WHERE "id" = '${victim.id}'`);
    await page.getByRole("button", { name: "Verify now" }).click();
    await page.getByText("Intact: every chain verifies.").waitFor();
    await page.goto(`${server.base}/writers`);
    const asyncRow = page.locator("table.health tbody tr", { has: page.locator("th", { hasText: /^async$/ }) });
    await asyncRow.waitFor();
    expect(Number(await asyncRow.locator("td").nth(3).textContent())).toBeGreaterThan(0); // written
    await signOut();
  });

  it("gives a receptionist the refusal screen, and the attempt is in the trail", async () => {
    await signIn("receptionist");
    await page.getByRole("heading", { name: "Not allowed" }).waitFor();
    expect(await page.getByRole("alert").textContent()).toMatch(/receptionist.*may not read the audit trail.*recorded in the audit trail/s);
    await server.flush();
    const auditor = await server.as("auditor");
    const denied = await auditor.audit.list.query({ action: "audit.list", outcome: "FORBIDDEN" });
    expect(denied.items.map((e) => e.actorRole)).toContain("receptionist");
    await signOut();
  });

  it("lets an admin see a dead letter with the database's reason and replay it once the cause is fixed", async () => {
    // DDL as the database's owner: on PostgreSQL the app's role may not alter the audit table.
    const sql = (text: string) => (provider === "sqlite" ? server.db.prisma.$executeRawUnsafe(text) : runRawSql(server.db.url, text));
    if (provider === "sqlite") {
      await sql(`CREATE TRIGGER refuse_poison BEFORE INSERT ON "AuditEntry" WHEN NEW.action = 'poison'
                 BEGIN SELECT RAISE(ABORT, 'poison refused'); END`);
    } else {
      await sql(`ALTER TABLE "AuditEntry" ADD CONSTRAINT no_poison CHECK (action <> 'poison')`);
    }
    const { id } = await server.writer.record({ action: "poison", entity: "Patient", entityId: "p-poison" });
    await server.flush();
    await signIn("admin");
    await page.getByRole("link", { name: "Dead letters" }).click();
    const row = page.locator("table.letters tbody tr", { hasText: "p-poison" });
    await row.waitFor();
    expect(await row.locator("td.reason").textContent()).toMatch(provider === "sqlite" ? /poison refused/ : /no_poison/);
    await row.getByRole("button", { name: "Replay" }).click();
    await page.getByText("Replayed 0; still rejected 1.").waitFor();
    await sql(provider === "sqlite" ? "DROP TRIGGER refuse_poison" : `ALTER TABLE "AuditEntry" DROP CONSTRAINT no_poison`);
    await page.getByRole("button", { name: "Replay all 1" }).click();
    await page.getByText("Replayed 1; still rejected 0.").waitFor();
    await page.getByText("No dead letters are waiting.").waitFor();
    await page.goto(`${server.base}/entry/${id}`);
    await page.getByRole("heading", { name: /^poison/ }).waitFor();
    await signOut();
  });

  it("is readable at 390 px: no sideways scrolling, each entry a card", async () => {
    const phone = await launchBrowser({ width: 390, height: 844 });
    try {
      const p = await phone.context.newPage();
      const { email, password } = server.login("admin");
      await p.goto(`${server.base}/`);
      await p.getByLabel("Email").fill(email);
      await p.getByLabel("Password").fill(password);
      await p.getByRole("button", { name: "Sign in" }).click();
      await p.locator("table.trail tbody tr").first().waitFor();
      expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(
        await p
          .locator("table.trail tbody tr")
          .first()
          .evaluate((tr) => getComputedStyle(tr).display),
      ).toBe("block");
      if (provider === "sqlite") await p.screenshot({ path: SCREENSHOT.replace(".png", "-390.png") });
      await p.getByRole("link", { name: "Dead letters" }).click();
      await p.getByText("No dead letters are waiting.").waitFor();
      expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    } finally {
      await phone.close();
    }
  });
});
