/**
 * Roles and what each may do, in one table: the server checks every route against it and the
 * authorisation test walks it. A user holds one or more roles; a permission is granted when any of
 * them grants it. Reading is every role's; changing the state is split so that the people who
 * build (maintainers) are not the people who approve (approvers), and only admins manage accounts.
 */
export const ROLES = ["viewer", "maintainer", "approver", "admin"] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = {
  /** Every page and API read: layers, candidates, findings, runs and their logs, the audit log. */
  read: ["viewer", "maintainer", "approver", "admin"],
  /** Start an update (a build of a candidate) or a watch run. */
  "update.start": ["maintainer", "admin"],
  "watch.run": ["maintainer", "admin"],
  /** Publish an approved candidate to a target (the target's policy is checked by the core). */
  "candidate.promote": ["maintainer", "admin"],
  /** Put back the layer a target held before its last publication. */
  "target.rollback": ["maintainer", "admin"],
  /** A signed verdict on a candidate (the approval policy is enforced by the core). */
  "candidate.approve": ["approver"],
  "candidate.reject": ["approver"],
  /** Accounts: add, list, revoke users and their tokens. */
  "users.manage": ["admin"],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function allows(roles: readonly Role[], permission: Permission): boolean {
  const granted: readonly Role[] = PERMISSIONS[permission];
  return roles.some((r) => granted.includes(r));
}

/** The permissions a set of roles grants, in the table's order. */
export function permissionsOf(roles: readonly Role[]): Permission[] {
  return (Object.keys(PERMISSIONS) as Permission[]).filter((p) => allows(roles, p));
}
