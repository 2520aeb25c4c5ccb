import { parseSignAlgorithm } from '../kms/sign-algorithm.js';
import { keyTypeFacts } from './key-type-facts.js';
import type { PolicyDocument, PolicyTestCase } from './policy-document.js';
import { evaluatePolicy } from './policy-engine.js';
import type { KeyFacts, PolicyRequest } from './policy-request.js';

/** The outcome of one test case. */
export interface PolicyTestResult {
  name: string;
  expected: 'allow' | 'deny';
  actual: 'allow' | 'deny';
  rule?: string;
  passed: boolean;
}

const DAY_MS = 86_400_000;

/** Runs the document's test table (or `cases`) against the document. */
export function runPolicyTests(
  doc: PolicyDocument,
  cases: PolicyTestCase[] = doc.tests,
  now = new Date(),
): PolicyTestResult[] {
  return cases.map((c) => {
    const decision = evaluatePolicy(doc, requestOf(c, now));
    const actual = decision.allowed ? 'allow' : 'deny';
    const rule = decision.allowed ? undefined : decision.rule;
    const passed = actual === c.expect && (c.rule === undefined || c.rule === rule);
    return { name: c.name, expected: c.expect, actual, passed, ...(rule === undefined ? {} : { rule }) };
  });
}

/** The policy request a test case describes. */
export function requestOf(c: PolicyTestCase, now: Date): PolicyRequest {
  const req: PolicyRequest = {
    actor: { name: c.actor, role: c.role, authMethod: 'test' },
    operation: c.operation,
    now,
  };
  if (c.key) {
    const k = c.key;
    const key: KeyFacts = {
      label: k.label,
      type: k.type,
      extractable: k.extractable,
      sensitive: k.sensitive,
      persistent: k.persistent,
      private: true,
      usages: k.usages,
      createdAt: new Date(now.getTime() - k.age_days * DAY_MS).toISOString(),
    };
    if (k.purpose !== undefined) key.purpose = k.purpose;
    if (k.expired) key.expiresAt = new Date(now.getTime() - 1000).toISOString();
    req.key = key;
    const family = keyTypeFacts(k.type).family;
    if (c.operation === 'key.sign' && family !== 'unknown' && family !== 'ml-kem') {
      req.algorithm = parseSignAlgorithm(c.algorithm, family);
    }
  }
  if (c.export) {
    req.export = { approvals: c.export.approvals };
    if (c.export.wrapping_key !== undefined) req.export.wrappingKey = c.export.wrapping_key;
  }
  return req;
}
