/**
 * Vendor migration (issue 3, item 4), for real: `hsmkit migrate plan|run` from a SoftHSM token to
 * another SoftHSM token, and from a SoftHSM token to NSS softokn. Every migrated key is checked
 * with code hsmkit did not write: OpenSSL verifies a signature made on the target under the OLD
 * public key from the source (transfers) or the target's new key (re-keys); pkcs11-tool on the
 * target shows the transferred keys sensitive, with the source's label and CKA_ID; OpenSSL verifies
 * the re-issued certificate under the CA.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import type { MemberOptions } from '../../../src/adapters/pkcs11/member.js';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import type { KeyOutcome, MigrationPlan } from '../../../src/migration/index.js';
import { Store } from '../../../src/store/store.js';
import { type CliResult, runCli as cli } from '../../support/cli.js';
import type { LocalModule } from '../../support/modules/local-module.js';
import { startNss } from '../../support/modules/nss.js';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../support/softhsm.js';
import { type ListedObject, listObjects, openssl, parseListObjects } from '../../support/tools.js';

const SHIM_SOURCE = new URL('./nss-init-shim.c', import.meta.url).pathname;

function json<T = { error: { code: string } }>(r: CliResult): T {
  assert.doesNotThrow(() => JSON.parse(r.stdout), `not JSON (exit ${r.code}): ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(r.stdout) as T;
}

function ok<T>(r: CliResult, what: string): T {
  assert.equal(r.code, 0, `${what} exited ${r.code}: ${r.stdout.slice(0, 3000)} ${r.stderr.slice(0, 2000)}`);
  return json<T>(r);
}

/** A SoftHSM member configuration with its own store. */
function softhsmConfig(dir: string, name: string, t: SoftHsmToken): string {
  const pinFile = join(dir, `${name}.pin`);
  writeFileSync(pinFile, t.userPin, { mode: 0o600 });
  writeFileSync(join(dir, `${name}.so-pin`), t.soPin, { mode: 0o600 });
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({
      hsm_configuration: {
        provider: 'softhsm2',
        connection: {
          type: 'local',
          module: SOFTHSM_MODULE,
          members: [{ name, token_label: t.label, pin_file: pinFile, env: t.env }],
        },
      },
      store: { driver: 'sqlite', path: join(dir, `${name}.db`) },
    }),
  );
  return file;
}

function nssConfig(dir: string, name: string, m: LocalModule): string {
  const pinFile = join(dir, `${name}.pin`);
  writeFileSync(pinFile, m.userPin, { mode: 0o600 });
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({
      hsm_configuration: {
        provider: 'nss',
        // NSS 3.87 does not enforce CKA_EXTRACTABLE=false (the capability probe shows it): an
        // operator who accepts it as a target accepts keys that can leave it, and says so here.
        security_policy: { key_attributes: { extractable: true } },
        connection: {
          type: 'local',
          module: m.module,
          members: [{ name, token_label: m.tokenLabel, pin_file: pinFile, init_args: m.initArgs }],
        },
      },
      store: { driver: 'sqlite', path: join(dir, `${name}.db`) },
    }),
  );
  return file;
}

/** Creates the source keys with the adapter (test setup), recording them in the source's store. */
async function makeKeys(
  t: SoftHsmToken,
  dbPath: string,
  keys: Array<{ label: string; type: 'rsa-2048' | 'rsa-3072' | 'ec-p256' | 'ec-p384'; replicable: boolean }>,
): Promise<Map<string, { pem: string; id: string }>> {
  const store = await Store.openSqlite(dbPath);
  const km = await Pkcs11KeyManager.open({ ...t.member(), name: 'setup' }, { store: store.keys });
  const out = new Map<string, { pem: string; id: string }>();
  try {
    for (const k of keys) {
      const info = await km.createKey({
        label: k.label,
        type: k.type,
        ...(k.replicable ? { protection: { extractable: true, wrapWithTrusted: true } } : {}),
      });
      out.set(k.label, { pem: info.publicKeyPem, id: info.id });
    }
  } finally {
    await km.close();
    await store.close();
  }
  return out;
}

/** Signs on the target with the adapter and verifies with OpenSSL under `pem`. */
async function opensslVerifies(
  dir: string,
  member: MemberOptions,
  label: string,
  pem: string,
): Promise<boolean> {
  const km = await Pkcs11KeyManager.open(member);
  try {
    const data = Buffer.from(`migrated key ${label} signs on the target ${Date.now()}`);
    const sig = await km.sign({ key: label, data });
    const base = join(dir, `v-${label}-${createHash('sha256').update(pem).digest('hex').slice(0, 8)}`);
    writeFileSync(`${base}.data`, data);
    writeFileSync(`${base}.sig`, sig);
    writeFileSync(`${base}.pub`, pem);
    const r = openssl([
      'dgst',
      '-sha256',
      '-verify',
      `${base}.pub`,
      '-signature',
      `${base}.sig`,
      `${base}.data`,
    ]);
    return r.status === 0 && /Verified OK/.test(r.stdout);
  } finally {
    await km.close();
  }
}

function auditOperations(dbPath: string): Array<{ operation: string; result: string }> {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('select operation, result from audit_log order by seq').all() as Array<{
      operation: string;
      result: string;
    }>;
  } finally {
    db.close();
  }
}

/** Labels of the objects that are not hsmkit's own per-member keys (audit, health). */
function userKeys(objects: ListedObject[]): string[] {
  return objects.map((o) => o.label ?? '').filter((l) => !l.startsWith('hsmkit-'));
}

/** The items of a plan or run result, by label; a missing label fails the test. */
function byLabel<T extends { label: string }>(from: { keys: T[] }): { get(label: string): T } {
  const m = new Map(from.keys.map((k) => [k.label, k]));
  return {
    get: (label) => {
      const v = m.get(label);
      assert.ok(v, `no entry for ${label}`);
      return v;
    },
  };
}

/** What `migrate run --json` prints. */
interface RunOutput {
  complete: boolean;
  transportKey?: { established: boolean };
  keys: KeyOutcome[];
}

describe('hsmkit migrate: SoftHSM → SoftHSM (another token)', () => {
  let dir: string;
  let a: SoftHsmToken;
  let b: SoftHsmToken;
  let from: string;
  let to: string;
  let keys: Map<string, { pem: string; id: string }>;
  let rootPem: string;
  let leafSerial: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hsmkit-migrate-ss-'));
    a = createSoftHsmToken('mig-src');
    b = createSoftHsmToken('mig-dst');
    from = softhsmConfig(dir, 'src', a);
    to = softhsmConfig(dir, 'dst', b);
    keys = await makeKeys(a, join(dir, 'src.db'), [
      { label: 'rsa-repl', type: 'rsa-2048', replicable: true },
      { label: 'ec-repl', type: 'ec-p256', replicable: true },
      { label: 'tls-fixed', type: 'ec-p256', replicable: false },
    ]);
    // A root CA (its key is non-extractable) and a TLS certificate for the non-extractable key.
    ok(
      await cli([
        '--config',
        from,
        '--json',
        'ca',
        'init',
        '--name',
        'root',
        '--subject',
        'CN=Migration Root',
        '--key-type',
        'ec-p384',
        '--out',
        join(dir, 'root.pem'),
      ]),
      'ca init',
    );
    rootPem = readFileSync(join(dir, 'root.pem'), 'utf8');
    ok(
      await cli([
        '--config',
        from,
        '--json',
        'csr',
        'create',
        '--key',
        'tls-fixed',
        '--subject',
        'CN=www.example.test',
        '--san',
        'dns:www.example.test',
        '--out',
        join(dir, 'tls.csr'),
      ]),
      'csr create',
    );
    const issued = ok<{ serial: string }>(
      await cli([
        '--config',
        from,
        '--json',
        'cert',
        'issue',
        '--ca',
        'root',
        '--csr',
        join(dir, 'tls.csr'),
        '--profile',
        'tls-server',
        '--out',
        join(dir, 'tls.pem'),
      ]),
      'cert issue',
    );
    leafSerial = String(issued.serial);
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
    a?.cleanup();
    b?.cleanup();
  });

  it('plan: transfers the keys extractable only under a trusted key, re-keys the others, and lists their certificates', async () => {
    const plan = ok<MigrationPlan>(
      await cli(['--json', 'migrate', 'plan', '--from', from, '--to', to]),
      'migrate plan',
    );
    const planned = byLabel(plan);
    assert.equal(plan.from.wrapMechanism, '0x210A');
    assert.equal(plan.to.wrapMechanism, '0x210A');
    assert.equal(planned.get('rsa-repl').action, 'transfer', planned.get('rsa-repl').reason);
    assert.equal(planned.get('ec-repl').action, 'transfer', planned.get('ec-repl').reason);
    const fixed = planned.get('tls-fixed');
    assert.equal(fixed.action, 'rekey');
    assert.match(fixed.reason, /not extractable/);
    const reissue = fixed.certificates.find((c) => c.action === 'reissue');
    assert.ok(reissue, 'the TLS certificate is listed for re-issue');
    assert.equal(reissue.serial, leafSerial);
    assert.equal(reissue.automatic, true, reissue.reason);
    const caKey = planned.get('ca-root');
    assert.equal(caKey.action, 'rekey');
    assert.ok(
      caKey.certificates.some((c) => c.action === 'cross-certify' && c.caName === 'root' && !c.automatic),
      'the CA key needs a cross-certificate, listed',
    );
    assert.equal(planned.get('hsmkit-audit').action, 'skip');
    assert.deepEqual(userKeys(listObjects(b, 'privkey')), [], 'planning changed nothing on the target');
  });

  it('run: a missing SO PIN file is refused with HSM_ERR_INVALID_INPUT before any key moves', async () => {
    const r = await cli(['--json', 'migrate', 'run', '--from', from, '--to', to]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(json(r).error.code, 'HSM_ERR_INVALID_INPUT');
    assert.deepEqual(userKeys(listObjects(b, 'privkey')), []);
  });

  it('run: moves every key with audit; each verifies by a signature on the target', async () => {
    const r = ok<RunOutput>(
      await cli([
        '--json',
        'migrate',
        'run',
        '--from',
        from,
        '--to',
        to,
        '--so-pin-file',
        `from=${join(dir, 'src.so-pin')}`,
        '--so-pin-file',
        `to=${join(dir, 'dst.so-pin')}`,
      ]),
      'migrate run',
    );
    assert.equal(r.complete, true);
    assert.equal(r.transportKey?.established, true);
    const out = byLabel(r);
    for (const label of ['rsa-repl', 'ec-repl']) {
      assert.equal(out.get(label).status, 'done', JSON.stringify(out.get(label).error));
      assert.equal(out.get(label).verified, true);
    }
    const fixed = out.get('tls-fixed');
    assert.ok(fixed.publicKey && fixed.certificates);
    assert.equal(fixed.verified, true);
    assert.notEqual(fixed.publicKey.old, fixed.publicKey.new, 'old → new public key recorded');
    const newSerial = fixed.certificates.find((c) => c.action === 'reissue')?.newSerial;
    assert.ok(newSerial && newSerial !== leafSerial);
    assert.equal(out.get('ca-root').verified, true);

    // OpenSSL: the target's signature verifies under the OLD public key (transfers) / the new one (re-keys).
    for (const label of ['rsa-repl', 'ec-repl']) {
      assert.ok(await opensslVerifies(dir, b.member({ name: 'check' }), label, keys.get(label)!.pem), label);
    }
    assert.ok(await opensslVerifies(dir, b.member({ name: 'check' }), 'tls-fixed', fixed.publicKey.newPem));
    assert.equal(
      await opensslVerifies(dir, b.member({ name: 'check' }), 'tls-fixed', keys.get('tls-fixed')!.pem),
      false,
      'a re-keyed key does not verify under the old key',
    );

    // pkcs11-tool on the target: transferred keys are sensitive and keep label and CKA_ID.
    const priv = listObjects(b, 'privkey');
    for (const label of ['rsa-repl', 'ec-repl']) {
      const o = priv.find((p) => p.label === label);
      assert.ok(o, `${label} on the target`);
      assert.equal(o.id, keys.get(label)!.id);
      assert.ok(o.access.includes('sensitive'), `${label}: ${o.access.join(', ')}`);
    }
    const secret = listObjects(b, 'secrkey').find((o) => o.label === 'hsmkit-replication');
    assert.ok(secret && !secret.access.includes('extractable'), 'the transport key is sealed on the target');

    // The re-issued certificate: signed by the root, for the target's new key.
    const db = new Database(join(dir, 'src.db'), { readonly: true });
    let der: string;
    try {
      der = (db.prepare('select der from pki_certificate where serial = ?').get(newSerial) as { der: string })
        .der;
    } finally {
      db.close();
    }
    const certPem = `-----BEGIN CERTIFICATE-----\n${der.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
    writeFileSync(join(dir, 'reissued.pem'), certPem);
    const v = openssl(['verify', '-CAfile', join(dir, 'root.pem'), join(dir, 'reissued.pem')]);
    assert.equal(v.status, 0, v.stderr);
    const certKey = openssl(['x509', '-in', join(dir, 'reissued.pem'), '-noout', '-pubkey']);
    assert.equal(
      certKey.stdout.trim(),
      fixed.publicKey.newPem.trim(),
      'the certificate certifies the new key',
    );
    assert.ok(rootPem.includes('BEGIN CERTIFICATE'));

    // Audit: every step in both logs, and both chains verify.
    for (const side of ['src', 'dst']) {
      const ops = auditOperations(join(dir, `${side}.db`)).filter((o) =>
        o.operation.startsWith('migration.'),
      );
      for (const op of [
        'migration.plan',
        'migration.transport_key',
        'migration.transfer',
        'migration.verify',
        'migration.rekey',
        'migration.reissue',
      ]) {
        assert.ok(
          ops.some((o) => o.operation === op && o.result === 'ok'),
          `${side}: ${op}`,
        );
      }
      const chain = await cli(['--config', join(dir, `${side}.yaml`), '--json', 'audit', 'verify']);
      assert.equal(chain.code, 0, chain.stdout);
    }
    const src = auditOperations(join(dir, 'src.db'));
    assert.ok(
      src.some((o) => o.operation === 'key.export' && o.result === 'ok'),
      'the export went through governance',
    );
    const dst = auditOperations(join(dir, 'dst.db'));
    assert.ok(
      dst.some((o) => o.operation === 'key.import' && o.result === 'ok'),
      'the import went through governance',
    );
  });

  it('a second plan finds every key present; a second run only verifies them', async () => {
    const plan = byLabel(
      ok<MigrationPlan>(await cli(['--json', 'migrate', 'plan', '--from', from, '--to', to]), 'plan again'),
    );
    for (const label of ['rsa-repl', 'ec-repl', 'tls-fixed', 'ca-root']) {
      assert.equal(plan.get(label).action, 'present', `${label}: ${plan.get(label).reason}`);
    }
    const r = ok<RunOutput>(await cli(['--json', 'migrate', 'run', '--from', from, '--to', to]), 'run again');
    assert.equal(r.complete, true);
    assert.equal(r.transportKey, undefined, 'no ceremony needed');
    for (const k of r.keys.filter((k) => k.action === 'present')) assert.equal(k.verified, true, k.label);
  });
});

describe('hsmkit migrate: SoftHSM → NSS softokn', () => {
  let dir: string;
  let a: SoftHsmToken;
  let nss: LocalModule;
  let from: string;
  let to: string;
  let keys: Map<string, { pem: string; id: string }>;
  let shim: string;

  /** pkcs11-tool on the NSS token, through the init-args shim; PIN redacted from the output. */
  function nssObjects(type: 'privkey' | 'secrkey'): ListedObject[] {
    const r = spawnSync(
      'pkcs11-tool',
      [
        '--module',
        shim,
        '--token-label',
        nss.tokenLabel,
        '--login',
        '--pin',
        nss.userPin,
        '--list-objects',
        '--type',
        type,
      ],
      {
        env: { ...process.env, HSMKIT_NSS_INIT_ARGS: nss.initArgs ?? '', HSMKIT_NSS_MODULE: nss.module },
        encoding: 'utf8',
      },
    );
    const clean = (s: string) => s.split(nss.userPin).join('[pin]');
    assert.equal(r.status, 0, clean(r.stderr ?? ''));
    return parseListObjects(clean(r.stdout));
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hsmkit-migrate-nss-'));
    shim = join(dir, 'nss-init-shim.so');
    const cc = spawnSync('gcc', ['-shared', '-fPIC', '-O1', '-o', shim, SHIM_SOURCE, '-ldl'], {
      encoding: 'utf8',
    });
    assert.equal(cc.status, 0, cc.stderr);
    a = createSoftHsmToken('mig-src2');
    nss = startNss('mig-nss');
    from = softhsmConfig(dir, 'src', a);
    to = nssConfig(dir, 'nss', nss);
    keys = await makeKeys(a, join(dir, 'src.db'), [
      { label: 'rsa-repl', type: 'rsa-2048', replicable: true },
      { label: 'rsa-repl-3k', type: 'rsa-3072', replicable: true },
      { label: 'ec-repl', type: 'ec-p256', replicable: true },
      { label: 'ec-fixed', type: 'ec-p256', replicable: false },
    ]);
  });

  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    a?.cleanup();
    await nss?.stop();
  });

  it('plan: RSA keys transfer (0x210A → 0x210B); the EC key is re-keyed (NSS cannot unwrap EC); the non-extractable key is blocked', async () => {
    const plan = ok<MigrationPlan>(
      await cli(['--json', 'migrate', 'plan', '--from', from, '--to', to]),
      'migrate plan',
    );
    assert.equal(plan.from.vendor, 'softhsm2');
    assert.equal(plan.to.vendor, 'nss');
    assert.equal(plan.from.wrapMechanism, '0x210A');
    assert.equal(plan.to.wrapMechanism, '0x210B');
    const k = byLabel(plan);
    assert.equal(k.get('rsa-repl').action, 'transfer', k.get('rsa-repl').reason);
    assert.equal(k.get('rsa-repl-3k').action, 'transfer', k.get('rsa-repl-3k').reason);
    const ec = k.get('ec-repl');
    assert.equal(ec.action, 'rekey');
    assert.match(ec.reason, /cannot unwrap ec private keys/);
    assert.deepEqual(
      ec.protection,
      { extractable: true, wrapWithTrusted: true },
      'the new key is protected like the old',
    );
    const fixed = k.get('ec-fixed');
    assert.equal(fixed.action, 'blocked');
    assert.equal(fixed.code, 'HSM_ERR_POLICY');
    assert.match(fixed.reason, /not extractable/);
    assert.match(fixed.reason, /CKA_EXTRACTABLE=false/);
  });

  it('run: a plan with a blocked key is refused with its code, and nothing changes on NSS', async () => {
    const r = await cli([
      '--json',
      'migrate',
      'run',
      '--from',
      from,
      '--to',
      to,
      '--so-pin-file',
      `from=${join(dir, 'src.so-pin')}`,
    ]);
    assert.notEqual(r.code, 0);
    assert.equal(json(r).error.code, 'HSM_ERR_POLICY');
    assert.deepEqual(userKeys(nssObjects('privkey')), []);
  });

  it('run --skip-blocked: RSA keys move wrapped HSM to HSM, the EC key is re-keyed; all verified by signatures', async () => {
    const r = ok<RunOutput>(
      await cli([
        '--json',
        'migrate',
        'run',
        '--from',
        from,
        '--to',
        to,
        '--so-pin-file',
        `from=${join(dir, 'src.so-pin')}`,
        '--skip-blocked',
      ]),
      'migrate run',
    );
    assert.equal(r.complete, true);
    const out = byLabel(r);
    for (const label of ['rsa-repl', 'rsa-repl-3k']) {
      assert.equal(out.get(label).status, 'done', JSON.stringify(out.get(label).error));
      assert.equal(out.get(label).verified, true);
    }
    const ec = out.get('ec-repl');
    assert.ok(ec.publicKey);
    assert.equal(ec.status, 'done', JSON.stringify(ec.error));
    assert.equal(ec.verified, true);
    assert.notEqual(ec.publicKey.old, ec.publicKey.new);
    assert.equal(out.get('ec-fixed').status, 'skipped');

    // OpenSSL: NSS's signatures verify under the SoftHSM public keys (transfers) and the new key (re-key).
    for (const label of ['rsa-repl', 'rsa-repl-3k']) {
      assert.ok(
        await opensslVerifies(dir, nss.member({ name: 'check' }), label, keys.get(label)!.pem),
        label,
      );
    }
    assert.ok(await opensslVerifies(dir, nss.member({ name: 'check' }), 'ec-repl', ec.publicKey.newPem));

    // pkcs11-tool on NSS: the transferred keys keep label and CKA_ID and are sensitive.
    const priv = nssObjects('privkey');
    for (const label of ['rsa-repl', 'rsa-repl-3k']) {
      const o = priv.find((p) => p.label === label);
      assert.ok(o, `${label} on NSS`);
      assert.equal(o.id, keys.get(label)!.id);
      assert.ok(o.access.includes('sensitive'), `${label}: ${o.access.join(', ')}`);
    }
    assert.ok(!priv.some((p) => p.label === 'ec-fixed'), 'the blocked key was not created');
    assert.ok(
      nssObjects('secrkey').some((o) => o.label === 'hsmkit-replication'),
      'the transport key is on NSS',
    );

    const ops = auditOperations(join(dir, 'nss.db'));
    for (const op of [
      'migration.plan',
      'migration.transport_key',
      'migration.transfer',
      'migration.verify',
      'migration.rekey',
    ]) {
      assert.ok(
        ops.some((o) => o.operation === op && o.result === 'ok'),
        op,
      );
    }
  });
});
