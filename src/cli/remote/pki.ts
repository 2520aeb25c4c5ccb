/** `hsmkit csr|cert|crl …` against a service: the `/v1/pki` routes. */
import { HsmError } from '../../errors/index.js';
import { parseValidity } from '../../pki/validity.js';
import { assertWritable, readInput, writeOutput } from '../files.js';
import { emit, type GlobalOptions, required } from '../output.js';
import { seg } from './remote-client.js';
import { remoteClient } from './remote-context.js';

const DAY_MS = 86_400_000;

/** The DER inside a PEM block (the service answers PEM; `--der` asks for DER). */
export function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN [A-Z0-9 ]+-----([\s\S]*?)-----END [A-Z0-9 ]+-----/.exec(pem);
  if (!m) throw new HsmError('HSM_ERR_INTERNAL', 'the service answered something that is not PEM');
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

/** A file the CLI read (PEM or DER) as the PEM the service takes. */
function asPem(bytes: Buffer, label: string): string {
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN ')) return bytes.toString('utf8');
  const b64 =
    bytes
      .toString('base64')
      .match(/.{1,64}/g)
      ?.join('\n') ?? '';
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Writes a PEM answer as PEM or, with --der, DER. */
function writePem(out: string, pem: string, der: boolean | undefined): void {
  writeOutput(out, der ? pemToDer(pem) : pem);
}

/** A validity like 90d in whole days (the API takes days). */
function validityDays(text: string): number {
  const ms = parseValidity(text);
  if (ms % DAY_MS !== 0)
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `--validity ${text}: the service takes whole days (e.g. 90d)`,
    );
  return ms / DAY_MS;
}

/** Certificate summary as the API gives it. */
interface CertSummary {
  serial: string;
  subject: string;
  not_before?: string;
  not_after: string;
  status: string;
  ca: string;
  profile?: string;
}

/** `csr create`: POST /v1/pki/csr. */
export async function csrCreate(
  g: GlobalOptions,
  o: { key?: string; subject?: string; san?: string; out?: string; der?: boolean },
): Promise<void> {
  const out = required(o.out, '--out');
  const key = required(o.key, '--key');
  const subject = required(o.subject, '--subject');
  assertWritable(out);
  const san = o.san
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const r = await remoteClient(g).post<{ csr_pem: string }>('/v1/pki/csr', {
    key,
    subject,
    ...(san && san.length > 0 ? { san } : {}),
  });
  writePem(out, r.csr_pem, o.der);
  emit(g, { ...r, key, subject, out }, () => `Wrote a CSR for "${key}" (${subject}) to ${out}`);
}

/** The options of `cert issue`, local and remote. */
export interface CertIssueOptions {
  ca?: string;
  csr: string[];
  profile?: string;
  validity?: string;
  out?: string;
  outDir?: string;
  der?: boolean;
}

/** `cert issue` (one CSR): POST /v1/pki/certificates. Batches go through `job submit --kind pki.issue-bulk`. */
export async function certIssue(g: GlobalOptions, o: CertIssueOptions): Promise<void> {
  const ca = required(o.ca, '--ca');
  const profile = required(o.profile, '--profile');
  if (o.csr.length !== 1 || o.outDir !== undefined) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      'with --server, cert issue takes one --csr and --out; issue a batch with "hsmkit job submit --kind pki.issue-bulk"',
    );
  }
  const out = required(o.out, '--out');
  assertWritable(out);
  const csrPem = asPem(readInput(o.csr[0]!), 'CERTIFICATE REQUEST');
  const r = await remoteClient(g).post<{ serial: string; certificate_pem: string }>('/v1/pki/certificates', {
    ca,
    csr_pem: csrPem,
    profile,
    ...(o.validity === undefined ? {} : { validity_days: validityDays(o.validity) }),
  });
  writePem(out, r.certificate_pem, o.der);
  emit(g, { ...r, out }, () => `Issued ${r.serial} to ${out}`);
}

/** `cert list`: GET /v1/pki/certificates. */
export async function certList(
  g: GlobalOptions,
  o: { ca?: string; status?: string; limit?: string },
): Promise<void> {
  const r = await remoteClient(g).get<{ items: CertSummary[] }>('/v1/pki/certificates', {
    ca: o.ca,
    status: o.status,
    limit: o.limit,
  });
  emit(g, r, () => listText(r.items));
}

/** The text of `cert list` (local and remote). */
export function listText(
  items: Array<{ serial: string; status: string; ca: string; not_after: string; subject: string }>,
): string {
  return items.length === 0
    ? 'No certificates.'
    : items.map((c) => `${c.serial} ${c.status.padEnd(7)} ${c.ca} ${c.not_after} ${c.subject}`).join('\n');
}

/** `cert show`: GET /v1/pki/certificates/:serial. */
export async function certShow(g: GlobalOptions, serial: string): Promise<void> {
  const r = await remoteClient(g).get<CertSummary & { certificate_pem: string }>(
    `/v1/pki/certificates/${seg(serial)}`,
  );
  emit(g, r, () => `${r.serial} ${r.status} ${r.profile ?? ''} ${r.subject} (CA ${r.ca})`);
}

/** `cert renew`: POST /v1/pki/certificates/:serial/renew. */
export async function certRenew(
  g: GlobalOptions,
  serial: string,
  o: { reuseKey?: boolean; rekey?: boolean; newKeyLabel?: string; out?: string; der?: boolean },
): Promise<void> {
  if (Boolean(o.reuseKey) === Boolean(o.rekey))
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'give exactly one of --reuse-key and --rekey');
  if (o.newKeyLabel !== undefined)
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      '--new-key-label is not available with --server (the service names the key)',
    );
  const out = required(o.out, '--out');
  assertWritable(out);
  const r = await remoteClient(g).post<{
    serial: string;
    certificate_pem: string;
    renewed_from: string;
    new_key_uri?: string;
  }>(`/v1/pki/certificates/${seg(serial)}/renew`, o.rekey ? { rekey: true } : {});
  writePem(out, r.certificate_pem, o.der);
  emit(
    g,
    { ...r, out },
    () =>
      `Renewed ${r.renewed_from} as ${r.serial} in ${out}${r.new_key_uri ? ` (new key ${r.new_key_uri})` : ''}`,
  );
}

/** `cert revoke`: POST /v1/pki/certificates/:serial/revoke. */
export async function certRevoke(g: GlobalOptions, serial: string, o: { reason: string }): Promise<void> {
  const r = await remoteClient(g).post<{ serial: string; reason: string; revoked_at: string }>(
    `/v1/pki/certificates/${seg(serial)}/revoke`,
    { reason: o.reason },
  );
  emit(g, r, () => `Revoked ${r.serial} (${r.reason})`);
}

/** `crl generate`: POST /v1/pki/crls. */
export async function crlGenerate(
  g: GlobalOptions,
  o: { ca?: string; nextUpdate: string; out?: string; der?: boolean },
): Promise<void> {
  const ca = required(o.ca, '--ca');
  const out = required(o.out, '--out');
  const days = (() => {
    const ms = parseValidity(o.nextUpdate);
    if (ms % DAY_MS !== 0)
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        `--next-update ${o.nextUpdate}: the service takes whole days`,
      );
    return ms / DAY_MS;
  })();
  assertWritable(out);
  const r = await remoteClient(g).post<{ crl_number: number | string; crl_pem: string; entries: number }>(
    '/v1/pki/crls',
    { ca, next_update_days: days },
  );
  writePem(out, r.crl_pem, o.der);
  emit(g, { ...r, ca, out }, () => `CRL #${r.crl_number} of "${ca}" with ${r.entries} entries in ${out}`);
}
