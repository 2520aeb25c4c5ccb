import type { KeyInfo } from '../kms/key-info.js';
import { keySpec } from '../kms/key-spec.js';
import type { CreateKeyRequest } from '../kms/requests.js';
import type { KeyFacts } from '../policy/policy-request.js';
import type { Usage } from '../policy/vocabulary.js';

/** What the policy needs to know about an existing key, from its token attributes and metadata. */
export function factsOfKey(info: KeyInfo): KeyFacts {
  const a = info.attributes;
  const usages: Usage[] = [];
  if (a.sign) usages.push('sign');
  if (a.decrypt) usages.push('decrypt');
  if (a.unwrap) usages.push('unwrap');
  if (a.derive) usages.push('derive');
  const facts: KeyFacts = {
    label: info.label,
    type: String(info.type),
    extractable: a.extractable,
    sensitive: a.sensitive,
    persistent: a.token,
    private: a.private,
    usages,
  };
  if (info.metadata?.purpose !== undefined) facts.purpose = info.metadata.purpose;
  if (info.metadata?.createdAt !== undefined) facts.createdAt = info.metadata.createdAt;
  if (info.metadata?.expiresAt !== undefined) facts.expiresAt = info.metadata.expiresAt;
  if (info.metadata?.status !== undefined) {
    facts.status = info.metadata.status === 'archived' ? 'archived' : 'active';
  }
  return facts;
}

/**
 * What a create request would make, with the same defaults the adapters apply (token, private,
 * sensitive, not extractable; sign+verify for signing key types), so the policy judges the key
 * that would really be generated.
 */
export function factsOfRequest(req: CreateKeyRequest): KeyFacts {
  const canSign = keySpec(req.type).canSign;
  const u = req.usage ?? {};
  const usages = (
    [
      ['sign', u.sign ?? canSign],
      ['verify', u.verify ?? canSign],
      ['decrypt', u.decrypt ?? false],
      ['wrap', u.wrap ?? false],
      ['unwrap', u.unwrap ?? false],
      ['derive', u.derive ?? false],
    ] as const
  )
    .filter(([, on]) => on)
    .map(([name]) => name as Usage);
  const p = req.protection ?? {};
  const facts: KeyFacts = {
    label: req.label,
    type: req.type,
    extractable: p.extractable ?? false,
    sensitive: p.sensitive ?? true,
    persistent: p.token ?? true,
    private: p.private ?? true,
    usages,
  };
  if (req.metadata?.purpose !== undefined) facts.purpose = req.metadata.purpose;
  if (req.metadata?.expiresAt !== undefined) facts.expiresAt = req.metadata.expiresAt;
  return facts;
}
