import { describe, expect, it } from "vitest";
import { InvalidRedactionRuleError } from "./errors.ts";
import { DEFAULT_REDACTIONS, REDACTED, Redactor, createRedactor } from "./redact.ts";

describe("createRedactor", () => {
  it("masks the default sensitive fields at any depth, whatever their case, _ or -", () => {
    const r = createRedactor();
    expect(
      r.value({
        name: "Ann",
        ssn: "123-45-6789",
        insurance: { insurance_number: "INS-1", provider: "Acme" },
        users: [{ PASSWORD: "x", passwordHash: "h" }],
        session: { "token-hash": "t", token: "raw" },
      }),
    ).toEqual({
      name: "Ann",
      ssn: REDACTED,
      insurance: { insurance_number: REDACTED, provider: "Acme" },
      users: [{ PASSWORD: REDACTED, passwordHash: REDACTED }],
      session: { "token-hash": REDACTED, token: REDACTED },
    });
    expect(DEFAULT_REDACTIONS).toEqual(["ssn", "insuranceNumber", "password", "passwordHash", "token", "tokenHash"]);
  });

  it("masks a whole sensitive object, not only its leaves", () => {
    expect(createRedactor().value({ ssn: { area: "123", serial: "6789" } })).toEqual({ ssn: REDACTED });
  });

  it("applies dotted path rules from the root, with * for any key or index", () => {
    const r = createRedactor(["contact.phone", "rows.*.email"]);
    expect(
      r.value({
        phone: "kept: not under contact",
        contact: { phone: "555", fax: "556" },
        rows: [{ email: "a@x", id: 1 }, { email: "b@x" }],
      }),
    ).toEqual({
      phone: "kept: not under contact",
      contact: { phone: REDACTED, fax: "556" },
      rows: [{ email: REDACTED, id: 1 }, { email: REDACTED }],
    });
  });

  it("removes instead of masking in remove mode", () => {
    expect(createRedactor([], "remove").value({ a: 1, ssn: "x", list: [{ token: "t" }] })).toEqual({ a: 1, list: [{}] });
  });

  it("leaves scalars, null and undefined alone", () => {
    const r = createRedactor();
    expect(r.value("ssn")).toBe("ssn");
    expect(r.value(null)).toBeNull();
    expect(r.value(undefined)).toBeUndefined();
  });

  it("masks a diff's changes by their path, and values nested inside a changed object", () => {
    const r = createRedactor(["contact.phone"]);
    expect(
      r.changes([
        { path: "lastName", from: "A", to: "B" },
        { path: "ssn", from: "111-11-1111", to: "222-22-2222" },
        { path: "insuranceNumber", to: "INS-9" },
        { path: "contact.phone", from: "1" },
        { path: "contact", to: { phone: "2", fax: "3" } },
        { path: "ssn.last4", from: "1111", to: "2222" },
      ]),
    ).toEqual([
      { path: "lastName", from: "A", to: "B" },
      { path: "ssn", from: REDACTED, to: REDACTED },
      { path: "insuranceNumber", to: REDACTED },
      { path: "contact.phone", from: REDACTED },
      { path: "contact", to: { phone: REDACTED, fax: "3" } },
      { path: "ssn.last4", from: REDACTED, to: REDACTED },
    ]);
    expect(
      createRedactor([], "remove").changes([
        { path: "ssn", from: "1", to: "2" },
        { path: "a", to: 1 },
        { path: "", to: 2 },
      ]),
    ).toEqual([
      { path: "a", to: 1 },
      { path: "", to: 2 },
    ]);
  });

  it("extends a redactor with more rules without changing the original", () => {
    const base = createRedactor();
    const more = base.extend(["notes", "a.b"]);
    expect(more.value({ notes: "x", a: { b: 1 }, ssn: "s" })).toEqual({ notes: REDACTED, a: { b: REDACTED }, ssn: REDACTED });
    expect(base.value({ notes: "x" })).toEqual({ notes: "x" });
    expect(base.extend(undefined, "remove").value({ ssn: 1, k: 2 })).toEqual({ k: 2 });
  });

  it.each([[""], ["  "], ["a..b"], [".a"], ["x".repeat(257)], [42]])("rejects the rule %j with a named error", (rule) => {
    expect(() => new Redactor([rule as string])).toThrow(InvalidRedactionRuleError);
  });
});
