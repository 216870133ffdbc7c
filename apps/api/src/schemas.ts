/** Input building blocks shared by the routers (each router keeps its own shapes). */
import { z } from "zod";

/** Every row id is a UUID (v7, made by Prisma or the audit writer). */
export const Id = z.uuid("id: expected a UUID");
/** An instant with an explicit offset, e.g. 2026-03-02T09:30:00Z. */
export const Instant = z.iso.datetime({ offset: true, message: "expected an ISO 8601 date-time with offset" });
/** A calendar day, e.g. 2026-03-02. */
export const Day = z.iso.date("expected a calendar day as YYYY-MM-DD");

/** The instant a validated Instant or Day string names (days at 00:00 UTC). */
export const toDate = (value: string) => new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
export const iso = (date: Date) => date.toISOString();

/** `T` with each key that may hold undefined made optional instead (and never undefined). */
export type DefinedFields<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/**
 * The parsed input without its undefined-valued keys. zod types an optional field `T | undefined`;
 * Prisma takes an absent key as "leave as is" and, under exactOptionalPropertyTypes, no explicit undefined.
 */
export function definedFields<T extends object>(value: T): DefinedFields<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as DefinedFields<T>;
}
