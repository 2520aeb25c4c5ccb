import { userInfo } from 'node:os';
import type { PolicyDocument } from '../policy/policy-document.js';
import type { Actor } from '../policy/policy-request.js';

/** Environment variable that chooses among the roles the policy gives the local user. */
export const ROLE_ENV = 'HSMKIT_ROLE';

/**
 * The actor of a CLI run: the OS user, authenticated by the OS (`local`), in the role
 * HSMKIT_ROLE names, else the first role `access.local_users` lists for the user, else
 * `access.default_role`, else `none`. Whether the user may hold that role is the policy's
 * decision (rule access.local_users / access.default_role), so a wrong claim is refused and recorded.
 */
export function localActor(doc: PolicyDocument, env: NodeJS.ProcessEnv = process.env): Actor {
  const name = userInfo().username;
  const claimed = env[ROLE_ENV]?.trim();
  const role = claimed || doc.access.local_users[name]?.[0] || doc.access.default_role || 'none';
  return { name, role, authMethod: 'local' };
}
