/** Admin roles, weakest first. Kept free of zod: the dashboard imports this file alone. */
export const ADMIN_ROLES = ['viewer', 'operator', 'admin'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

/** Whether `role` may do what `needed` may (viewer < operator < admin). */
export function roleAtLeast(role: AdminRole, needed: AdminRole): boolean {
  return ADMIN_ROLES.indexOf(role) >= ADMIN_ROLES.indexOf(needed);
}
