/** The permission table: which staff role may do what. One place to read and to change. */
export const ROLES = ["admin", "dentist", "hygienist", "receptionist", "auditor"] as const;
export type Role = (typeof ROLES)[number];

const TABLE = {
  "read patients": ["admin", "dentist", "hygienist", "receptionist"],
  "write patients": ["admin", "dentist", "receptionist"],
  "read records": ["admin", "dentist", "hygienist"],
  "write records": ["admin", "dentist", "hygienist"],
  "read appointments": ["admin", "dentist", "hygienist", "receptionist"],
  "write appointments": ["admin", "dentist", "receptionist"],
  "read audit": ["admin", "auditor"],
  "verify audit": ["auditor"],
  "purge audit": ["admin"],
  "manage staff": ["admin"],
  "replay dead letters": ["admin"],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof TABLE;

export function can(role: string, permission: Permission): boolean {
  return (TABLE[permission] as readonly string[]).includes(role);
}
