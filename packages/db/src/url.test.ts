import { describe, expect, it } from "vitest";
import { createDatabase } from "./client.ts";
import { UnsupportedDatabaseUrlError, databaseUrlFromEnv, providerOf, redactUrl } from "./url.ts";

describe("database URLs", () => {
  it("maps file: URLs to SQLite and postgres(ql):// URLs to PostgreSQL", () => {
    expect(providerOf("file:./auditrail.db")).toBe("sqlite");
    expect(providerOf("file:/tmp/x.db")).toBe("sqlite");
    expect(providerOf("postgresql://u@127.0.0.1:5432/db")).toBe("postgresql");
    expect(providerOf("postgres://u@127.0.0.1/db")).toBe("postgresql");
  });

  it.each(["mysql://root@localhost/db", "sqlite://x.db", "", "./x.db"])("rejects %j with an error naming the accepted forms", (url) => {
    expect(() => providerOf(url)).toThrow(UnsupportedDatabaseUrlError);
    expect(() => providerOf(url)).toThrow(/file:<path> for SQLite .* postgresql:\/\/user@host:5432\/db/);
  });

  it("createDatabase refuses an unsupported URL before opening anything", () => {
    expect(() => createDatabase("mysql://root@localhost/db")).toThrow(UnsupportedDatabaseUrlError);
  });

  it("masks passwords in the URL it reports", () => {
    expect(redactUrl("postgresql://app:s3cret@db:5432/x")).toBe("postgresql://app:***@db:5432/x");
    expect(() => providerOf("mysql://app:s3cret@db/x")).toThrow(/mysql:\/\/app:\*\*\*@db\/x/);
  });

  it("defaults to an absolute SQLite file inside the db package when DATABASE_URL is unset", () => {
    const url = databaseUrlFromEnv({});
    expect(url).toMatch(/^file:\/.*\/packages\/db\/auditrail\.db$/);
    expect(databaseUrlFromEnv({ DATABASE_URL: "postgresql://x@h/db" })).toBe("postgresql://x@h/db");
  });
});
