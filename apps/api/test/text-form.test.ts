/**
 * Text the database could not store as it came (NUL, lone UTF-16 surrogates) in an API call's
 * input: the call leaves exactly one audit entry — normalised by the writer, stored as hashed —
 * and audit.verify says OK. (Before, PostgreSQL refused the row, the dead-letter table refused it
 * too, and verify reported the gap as a deletion.)
 */
import { testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, errorOf, startHarness } from "./harness.ts";

describe.each(testProviders())("NUL and lone surrogates in API input on %s", (provider) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(provider);
  });
  afterAll(() => h?.close());

  const attempts = [
    { name: "a lone high surrogate in the email", email: "x\ud800@clinic.test", stored: "x\ufffd@clinic.test" },
    { name: "a lone low surrogate in the email", email: "\udc00nobody@clinic.test", stored: "\ufffdnobody@clinic.test" },
    { name: "NUL in the email", email: "nul\u0000@clinic.test", stored: "nul\ufffd@clinic.test" },
  ];

  for (const attempt of attempts) {
    it(`auth.login with ${attempt.name}: one entry, stored normalised, and verify says OK`, async () => {
      const before = (await h.entries({ action: "auth.login" })).length;
      const error = await errorOf(h.client().auth.login.mutate({ email: attempt.email, password: "pass\u0000word\ud800" }));
      expect(["UNAUTHORIZED", "BAD_REQUEST"]).toContain(error.data?.code);
      const entries = await h.entries({ action: "auth.login" });
      expect(entries).toHaveLength(before + 1);
      const entry = entries.at(-1);
      expect(entry?.outcome).toBe(error.data?.code);
      expect(JSON.stringify(entry)).not.toMatch(/\\u0000|\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])/i);
      if (error.data?.code === "UNAUTHORIZED") expect(entry?.metadata).toMatchObject({ email: attempt.stored });
      expect(await h.db.prisma.deadLetter.count()).toBe(0);
      // verify checks the trail against signed seals: seal everything written so far first.
      await h.flush();
      await h.seals.sealer.seal();
      const report = await (await h.as("auditor")).audit.verify.query();
      expect(report).toMatchObject({ ok: true, problems: [] });
    });
  }
});
