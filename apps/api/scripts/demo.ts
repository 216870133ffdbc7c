/**
 * A morning at the clinic, over HTTP with the typed client, against a running API (API_URL,
 * default http://localhost:3000 — start one with the Quick start). The receptionist and the
 * dentist go about their work (one of them trying something their role does not allow, one
 * mistyping a tooth number); then the auditor signs in and prints the trail the morning left.
 *
 *   npx -y pnpm@12.4.2 --filter @auditrail/api demo
 */
import { TRPCClientError } from "@trpc/client";
import { type ClinicClient, createClinicClient } from "../src/client.ts";
import type { RouterOutputs } from "../src/router.ts";

const API = (process.env.API_URL ?? "http://localhost:3000").replace(/\/$/, "");
const WALK_IN_SSN = "529-81-4473";

type Entry = RouterOutputs["audit"]["list"]["items"][number];

async function signIn(email: string, password: string): Promise<{ client: ClinicClient; id: string; name: string }> {
  const { token, user } = await createClinicClient(API).auth.login.mutate({ email, password });
  return { client: createClinicClient(API, token), id: user.id, name: user.name };
}

function say(who: string, what: string): void {
  console.log(`  ${who.padEnd(11)} ${what}`);
}

/** Runs a call expected to fail; returns its tRPC error code. */
async function refused(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    if (error instanceof TRPCClientError) return String((error.data as { code?: string } | undefined)?.code ?? "ERROR");
    throw error;
  }
  throw new Error("expected the call to be refused");
}

/** The first `count` free half-hour slots of `dentistId` today (UTC), from 08:00. */
async function freeSlots(client: ClinicClient, dentistId: string, day: string, count: number) {
  const booked = (await client.appointment.list.query({ day, dentistId, limit: 100 })).items;
  const slots: { startsAt: string; endsAt: string }[] = [];
  for (let t = Date.parse(`${day}T08:00:00Z`); slots.length < count && t < Date.parse(`${day}T23:30:00Z`); t += 30 * 60_000) {
    const end = t + 30 * 60_000;
    if (booked.some((b) => Date.parse(b.startsAt) < end && Date.parse(b.endsAt) > t)) continue;
    slots.push({ startsAt: new Date(t).toISOString(), endsAt: new Date(end).toISOString() });
  }
  if (slots.length < count) throw new Error(`Dentist's day ${day} is full: restart the API on a fresh database.`);
  return slots;
}

async function main(): Promise<void> {
  const health = await fetch(`${API}/health`).catch(() => undefined);
  if (!health?.ok) {
    console.error(`No API at ${API}: start it first (README Quick start: npx -y pnpm@12.4.2 start), or set API_URL.`);
    process.exit(1);
  }
  const started = new Date();
  const day = started.toISOString().slice(0, 10);
  console.log(`\nA morning at the clinic (${API}, ${day})\n`);

  const rita = await signIn("reception@clinic.test", "reception-demo-pass");
  const dana = await signIn("dentist@clinic.test", "dentist-demo-pass");
  say("reception", `${rita.name} signs in`);
  say("dentist", `${dana.name} signs in`);

  // 08:00 — the front desk opens.
  const found = await rita.client.patient.list.query({ search: "nguyen" });
  const alice = found.items[0];
  if (!alice) throw new Error("The demo patients are missing: run the seed (the Quick start does).");
  say("reception", `looks up "nguyen": ${found.items.map((p) => `${p.firstName} ${p.lastName}`).join(", ")}`);
  const walkIn = await rita.client.patient.create.mutate({
    firstName: "Marta",
    lastName: "Kowalski",
    dateOfBirth: "1991-06-14",
    phone: "+1 555 0177",
    email: "marta.k@example.test",
    ssn: WALK_IN_SSN,
    insuranceNumber: "INS-7781-K",
  });
  say("reception", `registers a walk-in, ${walkIn.firstName} ${walkIn.lastName} (SSN and insurance number on file)`);
  await rita.client.patient.update.mutate({ id: walkIn.id, phone: "+1 555 0178" });
  say("reception", "corrects her phone number");

  const [s1, s2, s3, ...later] = await freeSlots(rita.client, dana.id, day, 6);
  if (!s1 || !s2 || !s3) throw new Error("no slots");
  const first = await rita.client.appointment.schedule.mutate({
    patientId: alice.id,
    dentistId: dana.id,
    ...s1,
    reason: "Six-month check-up",
  });
  const second = await rita.client.appointment.schedule.mutate({
    patientId: walkIn.id,
    dentistId: dana.id,
    ...s2,
    reason: "Toothache, lower left",
  });
  say("reception", `books ${alice.firstName} at ${s1.startsAt.slice(11, 16)} and ${walkIn.firstName} at ${s2.startsAt.slice(11, 16)}`);
  const clash = await refused(
    rita.client.appointment.schedule.mutate({ patientId: walkIn.id, dentistId: dana.id, ...s1, reason: "Double" }),
  );
  say("reception", `tries to double-book the ${s1.startsAt.slice(11, 16)} slot → ${clash}`);
  await rita.client.appointment.reschedule.mutate({ id: second.id, ...s3 });
  say("reception", `moves ${walkIn.firstName} to ${s3.startsAt.slice(11, 16)}`);
  const imported = await rita.client.appointment.import.mutate({
    appointments: later.map((slot, i) => ({ patientId: alice.id, dentistId: dana.id, ...slot, reason: `Recall series, visit ${i + 1}` })),
  });
  say("reception", `imports ${imported.created.length} recall visits from the old calendar (one transaction)`);
  const peek = await refused(rita.client.record.listByPatient.query({ patientId: walkIn.id }));
  say("reception", `opens ${walkIn.firstName}'s dental chart → ${peek} (receptionists do not read records)`);

  // 09:00 — the dentist sees patients.
  await dana.client.patient.get.query({ id: alice.id });
  await dana.client.record.listByPatient.query({ patientId: alice.id });
  say("dentist", `reviews ${alice.firstName}'s file and chart`);
  await dana.client.record.create.mutate({ patientId: alice.id, toothNumber: 3, procedureCode: "D1110", notes: "Prophylaxis, adult" });
  say("dentist", `charts a cleaning for ${alice.firstName}`);
  const typo = await refused(
    dana.client.record.create.mutate({ patientId: walkIn.id, toothNumber: 33, procedureCode: "D2391", notes: "" }),
  );
  say("dentist", `charts tooth 33 for ${walkIn.firstName} → ${typo} (teeth are 1–32)`);
  const filling = await dana.client.record.create.mutate({
    patientId: walkIn.id,
    toothNumber: 19,
    procedureCode: "D2391",
    notes: "Composite, one surface (O)",
  });
  say("dentist", `charts a filling on tooth 19 for ${walkIn.firstName}`);
  await dana.client.record.amend.mutate({
    id: filling.id,
    reason: "Two surfaces, not one",
    procedureCode: "D2392",
    notes: "Composite, two surfaces (MO)",
    expectedVersion: 1,
  });
  say("dentist", "amends it: two surfaces, D2392 (the original stays on record)");
  await rita.client.appointment.cancel.mutate({ id: first.id, reason: "Patient called: running late, will rebook" });
  say("reception", `cancels ${alice.firstName}'s check-up at her request`);

  await rita.client.auth.logout.mutate();
  await dana.client.auth.logout.mutate();
  say("everyone", "signs out");

  // Noon — the auditor reads the morning's trail (async entries land within milliseconds).
  await new Promise((resolve) => setTimeout(resolve, 300));
  const otto = await signIn("auditor@clinic.test", "auditor-demo-pass");
  const entries: Entry[] = [];
  let cursor: string | undefined;
  do {
    const page = await otto.client.audit.list.query({ from: started.toISOString(), limit: 200, ...(cursor ? { cursor } : {}) });
    entries.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  entries.reverse(); // oldest first, to read as a story

  console.log(`\nThe audit trail of the morning, as ${otto.name} (auditor) reads it: ${entries.length} entries\n`);
  printTable(entries);
  const leaked = JSON.stringify(entries).includes(WALK_IN_SSN);
  const stats = await otto.client.audit.stats.query({ from: started.toISOString() });
  console.log(
    `\nOutcomes: ${Object.entries(stats.byOutcome)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}.` + ` The walk-in's SSN appears in the trail: ${leaked ? "YES (bug!)" : "no"}.`,
  );
  console.log(`Export it: curl -H "authorization: Bearer <token>" "${API}/audit/export?format=csv&from=${started.toISOString()}"\n`);
  await otto.client.auth.logout.mutate();
}

function printTable(entries: readonly Entry[]): void {
  const rows = entries.map((e) => [
    e.occurredAt.slice(11, 23),
    e.actorRole ?? "-",
    e.action,
    e.entity,
    e.entityId ? e.entityId.slice(-8) : "",
    e.outcome,
    summary(e),
  ]);
  const header = ["time (UTC)", "actor", "action", "entity", "id", "outcome", "what changed / noted"];
  const widths = header.map((h, i) => Math.min(i === 6 ? 60 : 24, Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length))));
  const line = (cells: string[]) =>
    cells.map((c, i) => (c.length > (widths[i] ?? 0) ? `${c.slice(0, (widths[i] ?? 1) - 1)}…` : c.padEnd(widths[i] ?? 0))).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "─".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}

/** The diff's paths (with from → to for short values), or the notable metadata. */
function summary(e: Entry): string {
  const diff = Array.isArray(e.diff) ? (e.diff as { path?: string; from?: unknown; to?: unknown }[]) : [];
  const changed = diff.filter((c) => c.path && !["id", "createdAt", "updatedAt"].includes(c.path));
  const show = (v: unknown) => {
    if (v === undefined) return "∅";
    const text = JSON.stringify(v);
    return text.length > 22 ? `${text.slice(0, 21)}…` : text;
  };
  if (changed.length > 0 && e.before) return changed.map((c) => `${c.path}: ${show(c.from)}→${show(c.to)}`).join(", ");
  if (changed.length > 0) return `new: ${changed.map((c) => c.path).join(", ")}`;
  const meta = (e.metadata ?? {}) as Record<string, unknown>;
  const error = meta.error as { code?: string } | undefined;
  if (error) return `refused (${error.code})`;
  if (typeof meta.count === "number") return `${meta.count} shown`;
  if (typeof meta.reason === "string") return `reason: ${meta.reason}`;
  if (typeof meta.sessionId === "string") return "new session";
  return "";
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
