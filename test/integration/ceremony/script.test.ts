/**
 * Ceremony scripts are strict: unknown fields, bad parameters and inconsistent quorums are
 * HSM_ERR_CEREMONY_SCRIPT naming the YAML path. The shipped examples parse.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { parseCeremonyScript } from '../../../src/ceremony/script-loader.js';
import { HsmError } from '../../../src/errors/index.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/ceremonies/', import.meta.url));
const ROOT = readFileSync(`${EXAMPLES}root-ca-3-of-5.yaml`, 'utf8');

/** A parsed YAML document, edited freely by the cases below. */
// biome-ignore lint/suspicious/noExplicitAny: the cases reach into arbitrary YAML paths.
type Doc = Record<string, any>;

/** The root example with `edit` applied to its parsed form. */
function variant(edit: (doc: Doc) => void): Buffer {
  const doc = parse(ROOT);
  edit(doc);
  return Buffer.from(stringify(doc));
}

function refused(bytes: Buffer, path: string): void {
  assert.throws(
    () => parseCeremonyScript(bytes, '/tmp'),
    (err: unknown) => {
      assert.ok(HsmError.is(err, 'HSM_ERR_CEREMONY_SCRIPT'), String(err));
      assert.equal(err.details?.path, path, err.message);
      assert.ok(err.message.includes(path), err.message);
      return true;
    },
  );
}

describe('ceremony scripts', () => {
  it('parses both examples', () => {
    const root = parseCeremonyScript(Buffer.from(ROOT), EXAMPLES);
    assert.equal(root.steps.length, 3);
    assert.deepEqual(root.custodians, ['alice', 'bob', 'carol', 'dave', 'erin']);
    assert.equal(root.steps[1]!.quorum, 3);
    const inter = parseCeremonyScript(readFileSync(`${EXAMPLES}intermediate-2-of-3.yaml`), EXAMPLES);
    assert.equal(inter.doc.quorum.m, 2);
  });

  const cases: Array<[string, (d: Doc) => void, string]> = [
    ['unknown top-level field', (d) => (d.extra = 1), '(root)'],
    ['unknown ceremony field', (d) => (d.ceremony.owner = 'x'), 'ceremony'],
    ['unknown step parameter', (d) => (d.steps[0].params.extractable = true), 'steps[0].params'],
    ['bad key type', (d) => (d.steps[0].params.type = 'rsa-1024'), 'steps[0].params.type'],
    ['unknown action', (d) => (d.steps[2].action = 'export-private-key'), 'steps[2].action'],
    ['m above n', (d) => (d.quorum.m = 6), 'quorum.m'],
    ['n not the custodian count', (d) => (d.quorum.n = 4), 'quorum.n'],
    ['step quorum below m', (d) => (d.steps[1].quorum = 2), 'steps[1].quorum'],
    ['window reversed', (d) => (d.window.not_after = '2025-01-01T00:00:00Z'), 'window.not_after'],
    ['undeclared output', (d) => (d.steps[1].params.output = 'elsewhere.pem'), 'steps[1].params.output'],
    ['output nobody writes', (d) => d.outputs.push('out/spare.pem'), 'outputs[3]'],
    ['CA key not generated before', (d) => (d.steps[1].params.key = 'other'), 'steps[1].params.key'],
    [
      'emergency block on a routine ceremony',
      (d) => (d.emergency = { reason: 'no reason at all' }),
      'emergency',
    ],
    [
      'emergency quorum too low',
      (d) => {
        d.ceremony.type = 'emergency';
        d.emergency = { reason: 'root key compromise suspected' };
      },
      'quorum.m',
    ],
    ['emergency without reason', (d) => (d.ceremony.type = 'emergency'), 'emergency'],
  ];
  for (const [name, edit, path] of cases) it(`refuses: ${name}`, () => refused(variant(edit), path));

  it('refuses duplicate YAML keys', () => {
    assert.throws(
      () => parseCeremonyScript(Buffer.from(`${ROOT}\nversion: 1\n`), '/tmp'),
      (e: unknown) => HsmError.is(e, 'HSM_ERR_CEREMONY_SCRIPT'),
    );
  });
});
