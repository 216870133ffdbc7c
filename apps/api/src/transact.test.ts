import { TRPCError } from "@trpc/server";
import { describe, expect, it } from "vitest";
import { isSerializationFailure, retryConflicts } from "./transact.ts";

/** What adapter-pg throws from a raw statement in a transaction aborted by a serialization failure. */
const writeConflict = () =>
  Object.assign(new Error("TransactionWriteConflict"), { name: "DriverAdapterError", cause: { kind: "TransactionWriteConflict" } });
const limits = { attempts: 4, budgetMs: 60_000, baseMs: 1, capMs: 2 };

describe("retrying transactions that collide", () => {
  it("recognises Prisma's codes, PostgreSQL's SQLSTATEs and the adapters' error kinds, and nothing else", () => {
    expect(isSerializationFailure(Object.assign(new Error("x"), { code: "P2034" }))).toBe(true);
    expect(isSerializationFailure(Object.assign(new Error("x"), { code: "P1008" }))).toBe(true);
    expect(isSerializationFailure(new Error("wrapped", { cause: Object.assign(new Error("pg"), { code: "40P01" }) }))).toBe(true);
    expect(isSerializationFailure(writeConflict())).toBe(true);
    expect(isSerializationFailure(Object.assign(new Error("busy"), { cause: { kind: "SocketTimeout" } }))).toBe(true);
    expect(isSerializationFailure(Object.assign(new Error("x"), { code: "P2002" }))).toBe(false);
    expect(isSerializationFailure(Object.assign(new Error("x"), { cause: { kind: "UniqueConstraintViolation" } }))).toBe(false);
  });

  it("retries a collision until it succeeds", async () => {
    let calls = 0;
    const result = await retryConflicts(async () => {
      if (++calls < 3) throw writeConflict();
      return "done";
    }, limits);
    expect(result).toBe("done");
    expect(calls).toBe(3);
  });

  it("gives up after the bounded attempts with CONFLICT, the last failure as its cause", async () => {
    let calls = 0;
    const error = await retryConflicts(
      async () => {
        calls++;
        throw writeConflict();
      },
      limits,
      "The amendment",
    ).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect(error).toBeInstanceOf(TRPCError);
    expect(error).toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(/^The amendment collided with concurrent writes 4 times in [\d.]+ s and was not made: try again\.$/),
    });
    expect((error as TRPCError).cause?.message).toBe("TransactionWriteConflict");
  });

  it("gives up when the next wait would pass the time budget", async () => {
    let calls = 0;
    const error = await retryConflicts(
      async () => {
        calls++;
        throw writeConflict();
      },
      { attempts: 1000, budgetMs: 0, baseMs: 1, capMs: 2 },
    ).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(error).toMatchObject({ code: "CONFLICT" });
  });

  it("passes any other error through at once", async () => {
    let calls = 0;
    const boom = new Error("constraint");
    await expect(
      retryConflicts(async () => {
        calls++;
        throw boom;
      }, limits),
    ).rejects.toBe(boom);
    expect(calls).toBe(1);
  });
});
