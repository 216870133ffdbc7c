/**
 * User-facing errors (Prisma `Pxxxx` codes) and their JSON-RPC encoding.
 */

/** An error the CLI shows to the user with its Prisma error code. */
export class UserFacingError extends Error {
  override readonly name = "UserFacingError";
  constructor(
    readonly code: string,
    message: string,
    readonly meta: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Where a database lives, for error messages (`host:port` or a file path). */
export interface DatabaseLocation {
  /** Name of the database (PostgreSQL) or file name (SQLite). */
  database: string;
  /** `host:port` (PostgreSQL) or absolute file path (SQLite). */
  location: string;
}

export function databaseNotReachable(location: string): UserFacingError {
  return new UserFacingError(
    "P1001",
    `Can't reach database server at \`${location}\`\n\nPlease make sure your database server is running at \`${location}\`.`,
    { database_location: location },
  );
}

export function databaseDoesNotExist(db: DatabaseLocation, sqlite: boolean): UserFacingError {
  const message = sqlite
    ? `Database \`${db.database}\` does not exist at \`${db.location}\`.`
    : `Database \`${db.database}\` does not exist on the database server at \`${db.location}\`.`;
  return new UserFacingError("P1003", message, {
    database_name: db.database,
    database_location: db.location,
  });
}

export function databaseAlreadyExists(db: DatabaseLocation): UserFacingError {
  return new UserFacingError("P1009", `Database \`${db.database}\` already exists on the database server at \`${db.location}\``, {
    database_name: db.database,
    database_location: db.location,
  });
}

export function authenticationFailed(user: string, location: string): UserFacingError {
  return new UserFacingError(
    "P1000",
    `Authentication failed against database server, the provided database credentials for \`${user}\` are not valid.\n\nPlease make sure to provide valid database credentials for the database server at the configured address.`,
    { database_user: user, database_host: location },
  );
}

export function accessDenied(user: string, database: string): UserFacingError {
  return new UserFacingError("P1010", `User \`${user}\` was denied access on the database \`${database}\``, {
    database_user: user,
    database_name: database,
  });
}

export function invalidConnectionString(details: string): UserFacingError {
  return new UserFacingError("P1013", `The provided database string is invalid. ${details}`, { details });
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "string") return error;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}

function stringProp(value: unknown, key: string): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const prop: unknown = Reflect.get(value, key);
  return typeof prop === "string" ? prop : undefined;
}

/**
 * Maps an error thrown by `pg` (socket error or PostgreSQL error with a
 * SQLSTATE) to a user-facing error, or returns undefined when it has no
 * well-known equivalent.
 */
export function fromPgError(error: unknown, db: DatabaseLocation & { user: string }): UserFacingError | undefined {
  const code = stringProp(error, "code");
  switch (code) {
    case "ECONNREFUSED":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return databaseNotReachable(db.location);
    case "3D000":
      return databaseDoesNotExist(db, false);
    case "42P04":
      return databaseAlreadyExists(db);
    case "28P01":
    case "28000":
      return authenticationFailed(db.user, db.location);
    case "42501":
      return accessDenied(db.user, db.database);
    default:
      if (errorMessage(error).includes("timeout expired")) return databaseNotReachable(db.location);
      return undefined;
  }
}

/** JSON-RPC error object, in the shape the prisma CLI understands. */
export interface RpcErrorObject {
  code: number;
  message: string;
  data: {
    is_panic: boolean;
    message: string;
    error_code?: string;
    meta?: Record<string, unknown>;
    backtrace?: string | null;
    error?: { message: string };
  };
}

/** Error code used by the native engine for every application-level error. */
const APPLICATION_ERROR = 4466;

export function rpcUserFacingError(code: string, message: string, meta: Record<string, unknown> = {}): RpcErrorObject {
  return {
    code: APPLICATION_ERROR,
    message: "An error happened. Check the data field for details.",
    data: { is_panic: false, message, error_code: code, meta },
  };
}

export function rpcGenericError(message: string, backtrace: string | null = null): RpcErrorObject {
  return {
    code: APPLICATION_ERROR,
    message: "An error happened. Check the data field for details.",
    data: { is_panic: false, message, backtrace },
  };
}

export function rpcPanic(message: string): RpcErrorObject {
  return {
    code: APPLICATION_ERROR,
    message: "An error happened. Check the data field for details.",
    data: { is_panic: true, message, error: { message } },
  };
}
