import { HsmError } from '../errors/index.js';
import type { ReplicationCeremonyMember } from '../kms/replication.js';

/** Default label of the cluster replication key. */
export const REPLICATION_KEY_LABEL = 'hsmkit-replication';

/** What the ceremony did, for the audit record. */
export interface ReplicationCeremonyResult {
  label: string;
  source: string;
  members: string[];
}

/**
 * Establishes one AES-256 replication key on every member, HSM to HSM: the first member generates
 * it; each other member makes a transport key pair inside its HSM; the key travels wrapped under
 * that transport key (RSA-OAEP) and is unwrapped inside the target; finally the source seals it
 * (CKA_EXTRACTABLE=false). The key never exists in the clear outside an HSM. Until the ceremony
 * issue lands, `hsmkit cluster init-replication` runs this step with audit.
 */
export async function establishReplicationKey(
  members: ReplicationCeremonyMember[],
  label = REPLICATION_KEY_LABEL,
): Promise<ReplicationCeremonyResult> {
  const [source, ...targets] = members;
  if (!source || targets.length === 0) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'a replication key needs at least two members');
  }
  await source.createReplicationKey(label, true);
  try {
    for (const target of targets) {
      const transport = await target.transportKey();
      const blob = await source.wrapReplicationKeyFor(label, transport);
      await target.unwrapReplicationKey(label, blob);
    }
  } finally {
    // Sealed even when a target failed: a half-distributed key must not stay extractable.
    await source.sealReplicationKey(label);
  }
  return { label, source: source.name, members: members.map((m) => m.name) };
}
