/**
 * A {@link CapabilityCache} on the file system: one JSON file per fingerprint in one directory
 * (mode 0700), each file mode 0600, written to a temporary file and renamed into place so a reader
 * never sees half a file. A file that cannot be read, does not parse, has the wrong shape or is
 * older than the maximum age counts as absent: the member host probes again and the file is
 * overwritten. Nothing here throws.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CachedProbe, CapabilityCache } from './capability-cache.js';

/** Default maximum age of a cached probe: 7 days. */
export const DEFAULT_PROBE_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
/** A probe dated this far in the future is not trusted (a clock that jumped, or an edited file). */
const FUTURE_TOLERANCE_MS = 5 * 60 * 1000;
const FINGERPRINT = /^[0-9a-f]{64}$/;

/** Options of a {@link FileCapabilityCache}. */
export interface FileCapabilityCacheOptions {
  /** The directory of the cache files (created with mode 0700). */
  dir: string;
  /** Age after which an entry is ignored and the token probed again; default 7 days. */
  maxAgeMs?: number;
  /** The clock, for the age check; default `Date.now`. */
  now?: () => number;
}

/** Probe results as `<dir>/<fingerprint>.json`. */
export class FileCapabilityCache implements CapabilityCache {
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: FileCapabilityCacheOptions) {
    this.maxAgeMs = opts.maxAgeMs ?? DEFAULT_PROBE_MAX_AGE_MS;
    this.now = opts.now ?? Date.now;
  }

  /** The file that holds the entry of `fingerprint`. */
  fileOf(fingerprint: string): string {
    return join(this.opts.dir, `${fingerprint}.json`);
  }

  async get(fingerprint: string): Promise<CachedProbe | undefined> {
    if (!FINGERPRINT.test(fingerprint)) return undefined;
    let entry: unknown;
    try {
      entry = JSON.parse(await readFile(this.fileOf(fingerprint), 'utf8'));
    } catch {
      return undefined;
    }
    if (!isCachedProbe(entry)) return undefined;
    const age = this.now() - Date.parse(entry.probedAt);
    if (age > this.maxAgeMs || age < -FUTURE_TOLERANCE_MS) return undefined;
    // The stored fingerprint is passed on as it is: the member host compares it with its own.
    return entry;
  }

  async set(entry: CachedProbe): Promise<void> {
    if (!FINGERPRINT.test(entry.fingerprint)) return;
    const file = this.fileOf(entry.fingerprint);
    const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(this.opts.dir, { recursive: true, mode: 0o700 });
      await chmod(this.opts.dir, 0o700);
      await writeFile(tmp, `${JSON.stringify(entry, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      await rename(tmp, file);
    } catch {
      // A cache that cannot be written only costs the next start a probe.
      await rm(tmp, { force: true }).catch(() => undefined);
      return;
    }
    await this.prune();
  }

  /**
   * Removes entries not written for twice the maximum age: tokens that were replaced or
   * re-initialised leave their old fingerprint's file behind, and nothing would read it again.
   */
  private async prune(): Promise<void> {
    try {
      const now = this.now();
      for (const name of await readdir(this.opts.dir)) {
        if (!/^[0-9a-f]{64}\.json$/.test(name)) continue;
        const path = join(this.opts.dir, name);
        const st = await stat(path).catch(() => undefined);
        if (st && now - st.mtimeMs > 2 * this.maxAgeMs) await rm(path, { force: true });
      }
    } catch {
      // Best effort: an unpruned file costs only disk space.
    }
  }
}

/** Checks the shape of a parsed file, so a damaged or foreign file is never handed to a host. */
function isCachedProbe(x: unknown): x is CachedProbe {
  if (typeof x !== 'object' || x === null) return false;
  const e = x as Record<string, unknown>;
  if (typeof e.fingerprint !== 'string' || typeof e.probedAt !== 'string') return false;
  if (Number.isNaN(Date.parse(e.probedAt))) return false;
  const r = e.result as Record<string, unknown> | null;
  if (typeof r !== 'object' || r === null) return false;
  const wrap = r.wrap as Record<string, unknown> | null;
  return (
    (r.probeObjects === 'session' || r.probeObjects === 'token') &&
    typeof r.label === 'string' &&
    typeof r.durationMs === 'number' &&
    Array.isArray(r.mechanisms) &&
    r.mechanisms.every(
      (m: unknown) =>
        typeof m === 'object' &&
        m !== null &&
        typeof (m as Record<string, unknown>).mechanism === 'number' &&
        typeof (m as Record<string, unknown>).ok === 'boolean',
    ) &&
    Array.isArray(r.properties) &&
    r.properties.every(
      (p: unknown) =>
        typeof p === 'object' &&
        p !== null &&
        typeof (p as Record<string, unknown>).id === 'string' &&
        ['holds', 'violated', 'not-checked'].includes((p as Record<string, unknown>).status as string),
    ) &&
    typeof wrap === 'object' &&
    wrap !== null &&
    typeof wrap.status === 'string' &&
    Array.isArray(r.notes) &&
    r.notes.every((n: unknown) => typeof n === 'string')
  );
}
