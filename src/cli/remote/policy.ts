/** `hsmkit policy …` against a service: the `/v1/policies` routes. */
import { HsmError } from '../../errors/index.js';
import { readInput } from '../files.js';
import { emit, type GlobalOptions, table } from '../output.js';
import { seg } from './remote-client.js';
import { remoteClient } from './remote-context.js';

/** A stored policy version as the API lists it. */
interface VersionView {
  version: number;
  digest: string;
  status: string;
  author: string;
  author_role: string;
  created_at: string;
  approved_by?: string;
  rolled_back_from?: number;
}

function versionNumber(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new HsmError('HSM_ERR_INVALID_INPUT', `"${s.slice(0, 32)}" is not a policy version`);
  return n;
}

/** The same history lines as the local `policy show`. */
function historyLine(h: VersionView): string {
  return `v${h.version} ${h.status.padEnd(10)} ${h.created_at} ${h.author}/${h.author_role}${h.approved_by ? ` approved by ${h.approved_by}` : ''}${h.rolled_back_from ? ` (rollback to v${h.rolled_back_from})` : ''}`;
}

/** `policy validate FILE`: POST /v1/policies/validate; an invalid policy exits with HSM_ERR_INVALID_INPUT. */
export async function validate(g: GlobalOptions, file: string): Promise<void> {
  const r = await remoteClient(g).post<{
    valid: boolean;
    digest: string;
    issues: Array<{ path?: string; message?: string }>;
    tests?: unknown[];
  }>('/v1/policies/validate', { document: readInput(file).toString('utf8') });
  if (!r.valid) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `${file}: invalid policy:\n${r.issues.map((i) => `${i.path ?? '(root)'}: ${i.message ?? JSON.stringify(i)}`).join('\n')}`,
      { details: { issues: r.issues } },
    );
  }
  emit(g, r, () => `${file}: valid policy (sha256 ${r.digest}; ${r.tests?.length ?? 0} test case(s))`);
}

/** `policy apply FILE`: POST /v1/policies; under dual control the version stays pending. */
export async function apply(g: GlobalOptions, file: string, o: { approve?: boolean }): Promise<void> {
  if (o.approve)
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      'with --server a pending policy is approved by version: hsmkit policy approve VERSION',
    );
  const r = await remoteClient(g).post<{ version: number; status: string; digest: string }>('/v1/policies', {
    document: readInput(file).toString('utf8'),
    comment: file,
  });
  emit(g, r, () =>
    r.status === 'active'
      ? `Policy version ${r.version} is active (sha256 ${r.digest}).`
      : `Policy version ${r.version} awaits approval by a second identity: hsmkit policy approve ${r.version}`,
  );
}

/** `policy approve VERSION`: POST /v1/policies/:version/approve. */
export async function approve(g: GlobalOptions, version: string): Promise<void> {
  const n = versionNumber(version);
  const r = await remoteClient(g).post<{ version: number; status: string }>(`/v1/policies/${n}/approve`, {});
  emit(g, r, () => `Policy version ${r.version} is ${r.status}.`);
}

/** `policy rollback VERSION`: POST /v1/policies/rollback. */
export async function rollback(g: GlobalOptions, version: string): Promise<void> {
  const to = versionNumber(version);
  const r = await remoteClient(g).post<{ version: number; rolled_back_from: number; status: string }>(
    '/v1/policies/rollback',
    { to_version: to },
  );
  emit(g, r, () => `Policy version ${r.version} is ${r.status} (restores version ${to}).`);
}

/** `policy show [VERSION]`: GET /v1/policies, or /v1/policies/:version with its document text. */
export async function show(g: GlobalOptions, version?: string): Promise<void> {
  const client = remoteClient(g);
  if (version !== undefined) {
    const v = await client.get<VersionView & { document: string }>(
      `/v1/policies/${seg(String(versionNumber(version)))}`,
    );
    emit(g, v, () =>
      [
        table([
          ['version', v.version],
          ['status', v.status],
          ['sha256', v.digest],
        ]),
        '',
        historyLine(v),
        '',
        v.document,
      ].join('\n'),
    );
    return;
  }
  const r = await client.get<{
    active: { version: number; digest: string; name?: string };
    versions: VersionView[];
  }>('/v1/policies');
  emit(g, r, () =>
    [
      table([
        ['version', r.active.version === 0 ? '0 (bootstrap from hsmkit.yaml)' : r.active.version],
        ['name', r.active.name],
        ['sha256', r.active.digest],
      ]),
      '',
      ...r.versions.map(historyLine),
    ].join('\n'),
  );
}
