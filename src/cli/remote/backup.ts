/** `hsmkit backup create|list|verify` against a service: `/v1/backups`. */
import { HsmError } from '../../errors/index.js';
import { readInput } from '../files.js';
import { emit, type GlobalOptions } from '../output.js';
import { waitForJob } from './jobs.js';
import { remoteClient } from './remote-context.js';

/**
 * `backup create --keys SEL [--storage NAME] [--wait]`: POST /v1/backups starts a durable
 * `backup.create` job; the service stores the file in its own backup storage (no --out).
 */
export async function createBackup(
  g: GlobalOptions,
  o: { keys: string; out?: string; storage?: string; wait?: boolean },
): Promise<void> {
  if (o.out !== undefined)
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      'with --server the backup goes to the service’s backup storage; drop --out (fetch it with "hsmkit backup download")',
    );
  const client = remoteClient(g);
  const started = await client.post<{ job_id: string }>('/v1/backups', {
    keys: o.keys,
    ...(o.storage === undefined ? {} : { storage: o.storage }),
  });
  if (!o.wait) {
    emit(
      g,
      started,
      () => `Backup job ${started.job_id} started; "hsmkit job wait ${started.job_id}" waits for it.`,
    );
    return;
  }
  const job = await waitForJob(client, started.job_id, 30 * 60_000);
  emit(g, job, () => `Backup job ${job.id} ${job.status}: ${JSON.stringify(job.result ?? {})}`);
}

/** `backup list [--from LOCATION]`: GET /v1/backups (a storage location of the service; default its first). */
export async function listBackups(g: GlobalOptions, storage?: string): Promise<void> {
  const r = await remoteClient(g).get<{
    items: Array<{ name: string; size: number; location: string; modified_at?: string }>;
  }>('/v1/backups', { storage });
  emit(g, r, () =>
    r.items.length === 0
      ? 'No backups.'
      : r.items.map((b) => `${b.name}  ${b.size} bytes  ${b.modified_at ?? ''}`).join('\n'),
  );
}

/**
 * `backup verify FILE [--signer FP]`: POST /v1/backups/verify with the file's content (`file_b64`),
 * or with `stored` the name of a file in the service's storage. A bad backup exits with
 * HSM_ERR_BACKUP_INVALID, as locally.
 */
export async function verifyBackup(
  g: GlobalOptions,
  file: string,
  o: { stored?: boolean; signer?: string },
): Promise<void> {
  const body = {
    ...(o.stored ? { name: file } : { file_b64: readInput(file).toString('base64') }),
    ...(o.signer === undefined ? {} : { signer: o.signer }),
  };
  const r = await remoteClient(g).post<{
    valid: boolean;
    entries: number;
    problems: Array<{ where: string; problem: string }>;
    signer_fingerprint?: string;
  }>('/v1/backups/verify', body);
  if (!r.valid) {
    throw new HsmError(
      'HSM_ERR_BACKUP_INVALID',
      `backup verification failed: ${r.problems.map((p) => `${p.where}: ${p.problem}`).join('; ')}`,
      { details: { problems: r.problems } },
    );
  }
  emit(
    g,
    r,
    () => `OK: ${r.entries} entries${r.signer_fingerprint ? `, signer ${r.signer_fingerprint}` : ''}.`,
  );
}
