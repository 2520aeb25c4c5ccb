import type { SignAlgorithm } from '../kms/sign-algorithm.js';
import type { Operation, Usage } from './vocabulary.js';

/** Who asks: a person or service, the role they act in, and how they proved who they are. */
export interface Actor {
  /** OS user, service account or client certificate subject. */
  name: string;
  /** The role claimed (one of ROLES; anything else is refused). */
  role: string;
  /** `local` (OS user on the CLI), `mtls`, `token`, … */
  authMethod: string;
}

/** What the policy needs to know about a key: read from the token, or from a create request. */
export interface KeyFacts {
  label: string;
  /** `rsa-4096`, `ec-p384`, … (possibly a size hsmkit does not generate, e.g. `rsa-1024`). */
  type: string;
  /** Metadata purpose as written (`root-ca` and `root_ca` are the same purpose). */
  purpose?: string;
  /** CKA_EXTRACTABLE of the private key. */
  extractable: boolean;
  /** CKA_SENSITIVE of the private key. */
  sensitive: boolean;
  /** CKA_TOKEN of the private key. */
  persistent: boolean;
  /** CKA_PRIVATE of the private key. */
  private: boolean;
  /** Usages the key pair has. */
  usages: Usage[];
  /** ISO-8601 creation time (from the store), when known. */
  createdAt?: string;
  /** ISO-8601 end of use (from the store), when known. */
  expiresAt?: string;
  /** Lifecycle status from the store: `archived` keys (replaced by a re-key) verify but never sign. */
  status?: 'active' | 'archived';
}

/** One operation to decide on. */
export interface PolicyRequest {
  actor: Actor;
  operation: Operation;
  /** The key operated on, or (for key.create) the key to be created. */
  key?: KeyFacts;
  /** Signature algorithm (key.sign, key.verify). */
  algorithm?: SignAlgorithm;
  /** Export details (key.export). */
  export?: { wrappingKey?: string; approvals: number };
  /** The time of the decision; default now. */
  now?: Date;
}

/** The engine's answer. A refusal names the rule (a YAML path of the policy document). */
export type Decision = { allowed: true } | { allowed: false; rule: string; reason: string };

/** A refusal, as rules return it. */
export type Refusal = { allowed: false; rule: string; reason: string };

/** Builds a refusal. */
export function refuse(rule: string, reason: string): Refusal {
  return { allowed: false, rule, reason };
}
