import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { HsmError } from '../../errors/index.js';
import {
  assertObjectDigest,
  type BackupStorage,
  objectDigest,
  type StoredBackup,
  validateObjectName,
} from './backup-storage.js';

/** Suffix of the file beside each object that records its SHA-256 (`<name>.sha256`). */
const DIGEST_SUFFIX = '.sha256';

/**
 * A directory as backup storage. Each object is written to a temporary file opened with O_EXCL
 * and mode 0600, fsynced, then published with link(2), which is atomic and — unlike rename(2) —
 * refuses to replace an existing object; the temporary name is then removed. The object's SHA-256
 * is kept in `<name>.sha256` (0600), written first, so a reader never sees an object without it.
 */
export class FileBackupStorage implements BackupStorage {
  /** `dir` must exist; it is not created (a mistyped path should fail, not sprout a new directory). */
  constructor(private readonly dir: string) {}

  get location(): string {
    return `file://${this.dir}`;
  }

  async put(name: string, data: Uint8Array): Promise<StoredBackup> {
    validateObjectName(name);
    if (name.endsWith(DIGEST_SUFFIX))
      throw new HsmError('HSM_ERR_INVALID_INPUT', `backup object names may not end in ${DIGEST_SUFFIX}`);
    const sha256 = objectDigest(data);
    await this.publish(`${name}${DIGEST_SUFFIX}`, Buffer.from(`${sha256}\n`));
    try {
      await this.publish(name, data);
    } catch (err) {
      await fs.unlink(join(this.dir, `${name}${DIGEST_SUFFIX}`)).catch(() => undefined);
      throw err;
    }
    return { name, size: data.length, sha256 };
  }

  async get(name: string): Promise<Buffer> {
    validateObjectName(name);
    const data = await this.read(name);
    const recorded = (await this.read(`${name}${DIGEST_SUFFIX}`).catch(() => Buffer.alloc(0)))
      .toString('utf8')
      .trim();
    assertObjectDigest(this.location, name, data, recorded === '' ? undefined : recorded);
    return data;
  }

  async list(): Promise<StoredBackup[]> {
    const names = (await fs.readdir(this.dir)).filter(
      (n) => !n.startsWith('.') && !n.endsWith(DIGEST_SUFFIX),
    );
    const out: StoredBackup[] = [];
    for (const name of names.sort()) {
      const st = await fs.stat(join(this.dir, name));
      if (!st.isFile()) continue;
      const digest = await fs.readFile(join(this.dir, `${name}${DIGEST_SUFFIX}`), 'utf8').catch(() => '');
      out.push({
        name,
        size: st.size,
        modifiedAt: st.mtime.toISOString(),
        ...(digest.trim() === '' ? {} : { sha256: digest.trim() }),
      });
    }
    return out;
  }

  async delete(name: string): Promise<void> {
    validateObjectName(name);
    try {
      await fs.unlink(join(this.dir, name));
    } catch (err) {
      throw this.fsError(err, name);
    }
    await fs.unlink(join(this.dir, `${name}${DIGEST_SUFFIX}`)).catch(() => undefined);
  }

  /** Temp file (O_EXCL, 0600, fsync) then link(2): atomic, never replaces an existing file. */
  private async publish(name: string, data: Uint8Array): Promise<void> {
    const tmp = join(this.dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    const fh = await fs.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fs.link(tmp, join(this.dir, name));
    } catch (err) {
      throw this.fsError(err, name);
    } finally {
      await fs.unlink(tmp).catch(() => undefined);
    }
  }

  private async read(name: string): Promise<Buffer> {
    try {
      return await fs.readFile(join(this.dir, name));
    } catch (err) {
      throw this.fsError(err, name);
    }
  }

  private fsError(err: unknown, name: string): HsmError {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      return new HsmError('HSM_ERR_NOT_FOUND', `${this.location}: no backup object "${name}"`);
    if (code === 'EEXIST')
      return new HsmError(
        'HSM_ERR_INVALID_INPUT',
        `${this.location}: backup object "${name}" already exists (never overwritten)`,
      );
    return new HsmError('HSM_ERR_UNAVAILABLE', `${this.location}: ${code ?? 'I/O error'} on "${name}"`);
  }
}
