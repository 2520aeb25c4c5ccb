/**
 * The PKI, policy, audit, ceremony and break-glass commands with `--server`, one CLI round trip
 * each against a real service (mutual TLS, SoftHSM); artefacts checked with openssl. The parity
 * test reads /openapi.json through `hsmkit server openapi` and fails on any API route without a
 * CLI command in src/cli/remote/route-commands.ts.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { Pkcs11BackupKekMember } from '../../../src/adapters/pkcs11/backup-kek-member.js';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { createBackupKek } from '../../../src/backup/index.js';
import { approvalPayload, pemFingerprint } from '../../../src/ceremony/approval.js';
import { type Challenge, newChallenge } from '../../../src/ceremony/challenge.js';
import type { CeremonyStep } from '../../../src/ceremony/script-loader.js';
import { buildProgram } from '../../../src/cli/main.js';
import { commandPath, PROTOCOL_ROUTES, ROUTE_COMMANDS } from '../../../src/cli/remote/route-commands.js';
import { Secret } from '../../../src/config/secret.js';
import { initCa } from '../../../src/pki/ca.js';
import { createPkiDeps } from '../../../src/pki/pki-deps.js';
import { asPkiKeyManager } from '../../../src/pki/pki-key-manager.js';
import { defaultPkiPolicy } from '../../../src/pki/policy.js';
import { enrolTotp } from '../../../src/server/totp-enrolment.js';
import { CeremonyRepository } from '../../../src/store/ceremony-records.js';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../support/softhsm.js';
import { openssl } from '../../support/tools.js';
import { type MonitoredApp, startMonitoredApp } from '../server/monitored-app.js';
import { GRANTS, openServiceFixture, type ServiceFixture } from '../server/service-fixture.js';
import {
  type ClientFiles,
  cli,
  clientFiles,
  errorCode,
  json,
  ok,
  remoteArgs,
  scratch,
  transcript,
} from './support.js';

const CA = 'cli-remote-ca';
const HUMANS = { bob: ['operator'], carol: ['security_officer'], dave: ['security_officer'] } as const;
type Human = keyof typeof HUMANS;
const uriOf = (name: string) => `spiffe://hsmkit.test/human/${name}`;

let f: ServiceFixture;
let dir: string;
let caFile: string;
let caCertFile: string;
const files = {} as Record<string, ClientFiles>;
const totpFiles = {} as Record<Human, string>;
const totpSecrets: string[] = [];

const as = (who: string, ...args: string[]) => cli([...remoteArgs(f, caFile, files[who]), ...args]);
/** As human `who` (certificate + TOTP) against `base` (default: the fixture's service). */
const human = (who: Human, base: string, ...args: string[]) =>
  cli([...remoteArgs(base, caFile, files[who]), '--totp-file', totpFiles[who], ...args]);
const sslOk = (args: string[]) => {
  const r = openssl(args);
  assert.equal(r.status, 0, `openssl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
};

before(async () => {
  f = await openServiceFixture({
    rateLimit: { per_second: 50, burst: 200 },
    extraIdentities: Object.entries(HUMANS).map(([name, roles]) => ({
      name,
      match: `uri:${uriOf(name)}`,
      kind: 'human' as const,
      roles: [...roles],
    })),
    service: {
      break_glass: {
        role: 'admin',
        approvers: { roles: ['security_officer'] },
        quorum: 2,
        max_duration_minutes: 30,
      },
    },
  });
  dir = scratch();
  caFile = join(dir, 'tls-ca.pem');
  writeFileSync(caFile, f.tls.ca);
  for (const role of ['admin', 'operator', 'signer', 'auditor', 'security_officer', 'custodian'] as const)
    files[role] = clientFiles(dir, role, f.clients[role]);
  for (const name of Object.keys(HUMANS) as Human[]) {
    files[name] = clientFiles(dir, name, f.tls.client(name, uriOf(name)));
    totpFiles[name] = join(dir, `${name}.otpauth`);
    writeFileSync(totpFiles[name], `${await enrolTotp(f.totp, name)}\n`, { mode: 0o600 });
    totpSecrets.push((await f.totp.secret(name))!);
  }
  const deps = createPkiDeps(
    asPkiKeyManager(f.ctx.km),
    f.ctx.store,
    defaultPkiPolicy(f.ctx.config.securityPolicy),
  );
  const ca = await initCa(deps, { name: CA, subject: 'CN=CLI Remote Test CA,O=hsmkit', keyType: 'ec-p256' });
  caCertFile = join(dir, 'issuing-ca.pem');
  writeFileSync(
    caCertFile,
    `-----BEGIN CERTIFICATE-----\n${Buffer.from(ca.certificate.rawData)
      .toString('base64')
      .match(/.{1,64}/g)!
      .join('\n')}\n-----END CERTIFICATE-----\n`,
  );
  await f.ctx.km.createKey({ label: 'cli-leaf', type: 'ec-p256' });
});

after(async () => {
  await f?.close();
});

describe('PKI with --server', () => {
  let serial = '';
  let renewed = '';

  it('csr create → cert issue → cert list/show: a CSR and a certificate openssl verifies', async () => {
    const csr = join(dir, 'leaf.csr');
    ok(
      await as(
        'signer',
        'csr',
        'create',
        '--key',
        'cli-leaf',
        '--subject',
        'CN=remote.test',
        '--san',
        'dns:remote.test',
        '--out',
        csr,
      ),
    );
    assert.match(sslOk(['req', '-in', csr, '-noout', '-verify', '-subject']), /CN\s*=\s*remote\.test/);
    const cert = join(dir, 'leaf.pem');
    const issued = json(
      ok(
        await as(
          'signer',
          '--json',
          'cert',
          'issue',
          '--ca',
          CA,
          '--csr',
          csr,
          '--profile',
          'tls-server',
          '--validity',
          '30d',
          '--out',
          cert,
        ),
      ),
    );
    serial = issued.serial;
    assert.match(sslOk(['verify', '-CAfile', caCertFile, cert]), /leaf\.pem: OK/);
    assert.match(
      sslOk(['x509', '-in', cert, '-noout', '-serial']).toLowerCase(),
      new RegExp(serial.replace(/^0+/, '').toLowerCase()),
    );
    const list = json(ok(await as('auditor', '--json', 'cert', 'list', '--ca', CA)));
    assert.ok(list.items.some((c: { serial: string }) => c.serial === serial));
    const show = ok(await as('auditor', 'cert', 'show', serial)).stdout;
    assert.match(show, new RegExp(`^${serial} good tls-server CN=remote.test`));
  });

  it('cert renew --reuse-key, cert revoke, crl generate: openssl sees the revoked serial in the CRL', async () => {
    const out = join(dir, 'renewed.pem');
    renewed = json(
      ok(await as('signer', '--json', 'cert', 'renew', serial, '--reuse-key', '--out', out)),
    ).serial;
    assert.notEqual(renewed, serial);
    sslOk(['verify', '-CAfile', caCertFile, out]);
    const rev = json(
      ok(await as('security_officer', '--json', 'cert', 'revoke', serial, '--reason', 'keyCompromise')),
    );
    assert.equal(rev.status, 'revoked');
    const crl = join(dir, 'ca.crl');
    ok(await as('signer', 'crl', 'generate', '--ca', CA, '--out', crl, '--next-update', '2d'));
    const text = sslOk(['crl', '-in', crl, '-CAfile', caCertFile, '-noout', '-text']);
    assert.match(text, /verify OK/);
    assert.match(
      text.toUpperCase().replace(/\s/g, ''),
      // OpenSSL prints whole octets (a serial 0d49… stays 0D49…): leading zero digits are optional.
      new RegExp(`SERIALNUMBER:0*${serial.toUpperCase().replace(/^0+/, '')}(?![0-9A-F])`),
    );
    // Revoking twice is refused with the service's code.
    assert.equal(errorCode(await as('security_officer', 'cert', 'revoke', serial)), 'HSM_ERR_INVALID_INPUT');
  });

  it('an auditor may not issue: HSM_ERR_POLICY_VIOLATION', async () => {
    const r = await as(
      'auditor',
      'csr',
      'create',
      '--key',
      'cli-leaf',
      '--subject',
      'CN=x',
      '--out',
      join(dir, 'denied.csr'),
    );
    assert.equal(errorCode(r), 'HSM_ERR_POLICY_VIOLATION');
  });
});

describe('audit and ceremonies with --server', () => {
  it('audit verify passes; audit export writes a folder that verifies offline, its checkpoints with openssl', async () => {
    const v = json(ok(await as('auditor', '--json', 'audit', 'verify')));
    assert.equal(v.valid, true);
    assert.ok(v.records > 0);
    const out = join(dir, 'audit-export');
    ok(await as('auditor', 'audit', 'export', '--out', out));
    // Offline: no service and no configuration needed.
    assert.match(ok(await cli(['audit', 'verify', '--export', out])).stdout, /Audit log OK/);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.ok(manifest.records > 0);
    // Every checkpoint signature verifies with openssl against the exported audit key.
    const sigs = readdirSync(join(out, 'checkpoints')).filter((n) => n.endsWith('.sig'));
    assert.ok(sigs.length > 0, 'the export carries a fresh checkpoint');
    for (const sig of sigs) {
      const body = join(out, 'checkpoints', sig.replace(/\.sig$/, '.json'));
      sslOk([
        'dgst',
        '-sha384',
        '-verify',
        join(out, 'audit-public-key.pem'),
        '-signature',
        join(out, 'checkpoints', sig),
        body,
      ]);
    }
  });

  it('ceremony list is empty; ceremony show of an unknown id is HSM_ERR_NOT_FOUND', async () => {
    assert.deepEqual(json(ok(await as('auditor', '--json', 'ceremony', 'list'))).items, []);
    assert.equal(errorCode(await as('auditor', 'ceremony', 'show', 'no-such-ceremony')), 'HSM_ERR_NOT_FOUND');
  });
});

describe('ceremony approvals with --server', () => {
  const ID = 'cli-remote-root';
  let challenge: Challenge;
  let custodianToken: SoftHsmToken;
  let custodianConfig: string;

  before(async () => {
    // A run awaiting approval of step 1, as the ceremony runner leaves it in the store.
    const repo = new CeremonyRepository(f.ctx.store.db);
    const scriptSha = createHash('sha256').update('script').digest('hex');
    await repo.startRun(ID, 'root-ca', scriptSha);
    const step = {
      number: 1,
      action: 'generate-key',
      quorum: 2,
      params: { label: 'root-1', key_type: 'ec-p384' },
    };
    challenge = newChallenge(ID, scriptSha, step as unknown as CeremonyStep);
    await repo.issueNonce(challenge.nonce, ID, 1);
    await repo.saveStep({ ceremonyId: ID, step: 1, status: 'awaiting_approval', challenge, progress: {} });
    // Custodian carl holds his key on his own token, with his own hsmkit configuration.
    custodianToken = createSoftHsmToken('carl');
    const pin = join(dir, 'carl-pin');
    writeFileSync(pin, custodianToken.userPin, { mode: 0o600 });
    custodianConfig = join(dir, 'carl.yaml');
    writeFileSync(
      custodianConfig,
      stringify({
        hsm_configuration: {
          provider: 'softhsm2',
          connection: {
            module: SOFTHSM_MODULE,
            token_label: custodianToken.label,
            pin_file: pin,
            env: custodianToken.env,
          },
        },
        store: { path: join(dir, 'carl.db') },
      }),
    );
  });
  after(() => custodianToken?.cleanup());

  it('ceremony show lists the open challenge; carl signs it on his token and posts it; dora posts an approval file', async () => {
    const shown = json(ok(await as('auditor', '--json', 'ceremony', 'show', ID)));
    assert.deepEqual(shown.pending_approvals[0].challenge, challenge);
    // Carl's key is generated and exported locally (no --server), then registered as a custodian.
    ok(
      await cli(['--config', custodianConfig, 'key', 'generate', '--type', 'ec-p256', '--label', 'carl-key']),
    );
    const carlPem = ok(await cli(['--config', custodianConfig, 'key', 'public', 'carl-key'])).stdout;
    const repo = new CeremonyRepository(f.ctx.store.db);
    await repo.addCustodian({ name: 'carl', fingerprint: pemFingerprint(carlPem), publicKeyPem: carlPem });
    const carl = json(
      ok(
        await cli([
          ...remoteArgs(f, caFile, files.custodian),
          '--config',
          custodianConfig,
          '--json',
          'ceremony',
          'approve',
          '--ceremony',
          ID,
          '--key',
          'carl-key',
          '--custodian',
          'carl',
        ]),
      ),
    );
    assert.deepEqual({ accepted: carl.accepted, step: carl.step }, { accepted: true, step: 1 });
    // Dora signed offline, outside hsmkit (her own key), and hands over the approval file.
    const dora = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const doraPem = dora.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await repo.addCustodian({ name: 'dora', fingerprint: pemFingerprint(doraPem), publicKeyPem: doraPem });
    const claims = {
      challenge,
      custodian: 'dora',
      site: 'unspecified',
      keyFingerprint: pemFingerprint(doraPem),
    };
    const file = join(dir, 'dora.approval.json');
    writeFileSync(
      file,
      JSON.stringify({
        type: 'hsmkit.ceremony.approval',
        v: 1,
        ...claims,
        signature: sign('sha256', approvalPayload(claims), {
          key: dora.privateKey,
          dsaEncoding: 'der',
        }).toString('base64'),
      }),
    );
    ok(await as('custodian', 'ceremony', 'approve', '--approval', file));
    const after = json(ok(await as('auditor', '--json', 'ceremony', 'show', ID)));
    assert.equal(after.pending_approvals[0].received, 2);
    // The same approval again is refused with the service's code.
    assert.equal(
      errorCode(await as('custodian', 'ceremony', 'approve', '--approval', file)),
      'HSM_ERR_APPROVAL_REFUSED',
    );
  });
});

describe('backups with --server', () => {
  before(async () => {
    // The service's token gets a backup KEK (2 of 3) and an exportable key, as a KEK ceremony and
    // an operator would make them; the service then backs the key up as a job.
    const so = await Pkcs11BackupKekMember.open({
      ...f.token.member(),
      name: 'm0',
      pin: new Secret(f.token.soPin, 'test'),
    });
    const km = await Pkcs11KeyManager.open({ ...f.token.member(), name: 'm0' });
    try {
      await createBackupKek({
        source: so,
        random: (n) => km.generateRandom(n),
        threshold: 2,
        recipients: ['c1', 'c2', 'c3'].map((custodian) => ({
          custodian,
          publicKeyPem: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
            type: 'spki',
            format: 'pem',
          }) as string,
        })),
        ceremonyId: 'cli-remote-kek',
      });
      await km.createKey({
        label: 'bk-ec',
        type: 'ec-p256',
        protection: { extractable: true, wrapWithTrusted: true },
      });
    } finally {
      await so.close();
      await km.close();
    }
    // The test policy with an export rule that trusts the backup KEK (the bootstrap policy's rule).
    const policy = {
      name: 'service-test',
      access: {
        default_role: 'admin',
        roles: Object.fromEntries(
          Object.entries(GRANTS)
            .filter(([, ops]) => ops.length > 0)
            .map(([r, ops]) => [r, [{ operations: ops }]]),
        ),
      },
      export: { mode: 'wrap_trusted', trusted_wrapping_keys: ['hsmkit-backup-kek'] },
    };
    await f.ctx.governance.admin.apply(stringify(policy), 'backups allowed', false);
    await f.ctx.governance.refresh();
  });

  it('backup create runs as a job; backup list shows the file; backup verify passes, and fails on a tampered copy', async () => {
    const started = json(ok(await as('admin', '--json', 'backup', 'create', '--keys', 'bk-*')));
    assert.match(started.job_id, /^[0-9a-f-]{36}$/);
    const job = json(ok(await as('admin', '--json', 'job', 'wait', started.job_id, '--timeout', '120')));
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
    assert.equal(job.result.entries, 1);
    const list = json(ok(await as('admin', '--json', 'backup', 'list')));
    const item = list.items.find((i: { name: string }) => i.name === job.result.name);
    assert.ok(item, `${job.result.name} is listed`);
    const file = join(fileURLToPath(job.result.location), job.result.name);
    const verified = json(ok(await as('admin', '--json', 'backup', 'verify', file)));
    assert.equal(verified.valid, true);
    assert.equal(verified.entries, 1);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    const tampered = join(dir, 'tampered.backup.json');
    const text = JSON.stringify(doc).replace(/"bk-ec"/g, '"bk-xx"');
    assert.notEqual(text, JSON.stringify(doc));
    writeFileSync(tampered, text);
    const bad = await as('admin', 'backup', 'verify', tampered);
    assert.notEqual(bad.code, 0);
    assert.equal(errorCode(bad), 'HSM_ERR_BACKUP_INVALID', bad.stderr);
  });
});

describe('break-glass with --server', () => {
  // Break-glass is wired (with alerting) by the monitored app, as `hsmkit serve` wires it.
  let m: MonitoredApp;
  before(async () => {
    m = await startMonitoredApp(f);
  });
  after(async () => m?.close());

  it('bob requests; carol and dave approve; it is active and listed', async () => {
    const req = json(
      ok(
        await human(
          'bob',
          m.base,
          '--json',
          'break-glass',
          'request',
          '--reason',
          'incident 7',
          '--duration',
          '15',
        ),
      ),
    );
    assert.equal(req.status, 'pending');
    assert.equal(req.approvals_needed, 2);
    const self = await human('bob', m.base, 'break-glass', 'approve', req.id);
    assert.notEqual(self.code, 0);
    const one = json(ok(await human('carol', m.base, '--json', 'break-glass', 'approve', req.id)));
    assert.equal(one.approvals_needed, 1);
    const two = json(ok(await human('dave', m.base, '--json', 'break-glass', 'approve', req.id)));
    assert.equal(two.status, 'active');
    assert.ok(two.expires_at);
    const list = json(ok(await human('carol', m.base, '--json', 'break-glass', 'list')));
    assert.ok(
      list.items.some((i: { id: string; status: string }) => i.id === req.id && i.status === 'active'),
    );
  });
});

describe('policy with --server (dual control)', () => {
  let base: Record<string, unknown>;

  it('policy show, show VERSION, validate (good and bad)', async () => {
    const shown = json(ok(await as('auditor', '--json', 'policy', 'show')));
    const v = json(ok(await as('auditor', '--json', 'policy', 'show', String(shown.active.version))));
    base = parse(v.document);
    assert.equal(base.name, 'service-test');
    const good = join(dir, 'good-policy.yaml');
    writeFileSync(good, stringify(base));
    assert.equal(json(ok(await as('operator', '--json', 'policy', 'validate', good))).valid, true);
    const bad = join(dir, 'bad-policy.yaml');
    writeFileSync(
      bad,
      stringify({ ...base, access: { roles: { operator: [{ operations: ['key.fly'] }] } } }),
    );
    const r = await as('operator', 'policy', 'validate', bad);
    assert.equal(r.code, 2);
    assert.equal(errorCode(r), 'HSM_ERR_INVALID_INPUT');
    assert.match(r.stderr, /access\.roles\.operator/);
  });

  it('apply (dual control on) → an operator’s proposal is pending → policy approve by another identity → rollback', async () => {
    const dual = join(dir, 'dual.yaml');
    writeFileSync(
      dual,
      stringify({ ...base, governance: { ...((base.governance as object) ?? {}), dual_control: true } }),
    );
    const first = json(ok(await as('admin', '--json', 'policy', 'apply', dual)));
    assert.equal(first.status, 'active');
    const next = join(dir, 'next.yaml');
    writeFileSync(next, stringify({ ...base, name: 'service-test-2', governance: { dual_control: true } }));
    const proposed = json(ok(await as('operator', '--json', 'policy', 'apply', next)));
    assert.equal(proposed.status, 'pending');
    const approved = json(
      ok(await as('security_officer', '--json', 'policy', 'approve', String(proposed.version))),
    );
    assert.equal(approved.status, 'active');
    const shown = json(ok(await as('auditor', '--json', 'policy', 'show')));
    assert.equal(shown.active.version, proposed.version);
    const rolled = json(
      ok(await as('security_officer', '--json', 'policy', 'rollback', String(first.version))),
    );
    assert.ok(rolled.version > proposed.version);
  });
});

describe('parity: every API route has a CLI command', () => {
  it('each operation in /openapi.json is mapped to a command, and each mapped command exists', async () => {
    // The fixture's app mounts the admin API; the monitored app adds break-glass, as serve does.
    const mon = await startMonitoredApp(f);
    const routes = new Set<string>();
    try {
      for (const base of [f.base, mon.base]) {
        const doc = JSON.parse(
          ok(await cli([...remoteArgs(base, caFile, files.auditor), 'server', 'openapi'])).stdout,
        ) as {
          paths: Record<string, Record<string, unknown>>;
        };
        for (const [path, ops] of Object.entries(doc.paths))
          for (const m of Object.keys(ops)) routes.add(`${m.toUpperCase()} ${path}`);
      }
    } finally {
      await mon.close();
    }
    assert.ok(routes.has('POST /v1/break-glass/requests'));
    assert.ok(routes.size >= 30, `only ${routes.size} routes: is the admin API mounted?`);
    const unmapped = [...routes].filter(
      (r) => ROUTE_COMMANDS[r] === undefined && PROTOCOL_ROUTES[r] === undefined,
    );
    assert.deepEqual(unmapped, [], 'API routes without a CLI command (add them to ROUTE_COMMANDS)');
    const commands = new Set<string>();
    const visit = (c: ReturnType<typeof buildProgram>) => {
      commands.add(commandPath(c));
      for (const s of c.commands) visit(s);
    };
    visit(buildProgram());
    for (const [route, command] of Object.entries(ROUTE_COMMANDS))
      assert.ok(commands.has(command), `${route} maps to "hsmkit ${command}", which does not exist`);
  });
});

describe('secrets', () => {
  it('no CLI output holds a TOTP secret', () => {
    for (const r of transcript)
      for (const s of totpSecrets)
        assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `leaked in hsmkit ${r.args.join(' ')}`);
  });
});
