import { normalisePurpose } from '../key-type-facts.js';
import type { PolicyDocument } from '../policy-document.js';
import { type PolicyRequest, type Refusal, refuse } from '../policy-request.js';
import { ROLES, type Role } from '../vocabulary.js';

/** Whether the actor may act in the claimed role, and the role grants the operation on the key. */
export function checkAccess(doc: PolicyDocument, req: PolicyRequest): Refusal | undefined {
  const { actor } = req;
  if (!(ROLES as readonly string[]).includes(actor.role)) {
    return refuse('access.roles', `"${actor.role}" is not a role`);
  }
  const role = actor.role as Role;
  if (actor.authMethod === 'local') {
    const listed = doc.access.local_users[actor.name];
    if (listed !== undefined && !listed.includes(role)) {
      return refuse(`access.local_users.${actor.name}`, `user ${actor.name} may not act as ${role}`);
    }
    if (listed === undefined) {
      if (doc.access.default_role === undefined) {
        return refuse('access.default_role', `user ${actor.name} has no role (no default_role)`);
      }
      if (doc.access.default_role !== role) {
        return refuse('access.default_role', `user ${actor.name} may act only as ${doc.access.default_role}`);
      }
    }
  }
  const grants = doc.access.roles[role] ?? [];
  const covered = grants.some(
    (g) =>
      (g.operations.includes('*') || g.operations.includes(req.operation)) &&
      (req.key === undefined || g.keys.some((s) => selects(s, req))),
  );
  if (!covered) {
    return refuse(
      `access.roles.${role}`,
      `role ${role} is not granted ${req.operation}${req.key ? ` on key "${req.key.label}"` : ''}`,
    );
  }
  return undefined;
}

/** Whether a key selector (`*`, `label:GLOB`, `purpose:NAME`, `type:GLOB`) matches the request's key. */
export function selects(selector: string, req: PolicyRequest): boolean {
  const key = req.key;
  if (selector === '*') return true;
  if (key === undefined) return false;
  const colon = selector.indexOf(':');
  const kind = selector.slice(0, colon);
  const pattern = selector.slice(colon + 1);
  if (kind === 'label') return glob(pattern).test(key.label);
  if (kind === 'type') return glob(pattern).test(key.type);
  if (kind === 'purpose') return normalisePurpose(key.purpose) === normalisePurpose(pattern);
  return false;
}

function glob(pattern: string): RegExp {
  const body = pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${body.join('.*')}$`, 's');
}
