/**
 * Backup storage in an S3-compatible bucket, on the official AWS SDK (@aws-sdk/client-s3). It lives
 * under adapters/ because only adapters import vendor SDKs; src/backup sees the BackupStorage port.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import {
  assertObjectDigest,
  type BackupStorage,
  objectDigest,
  type StoredBackup,
  validateObjectName,
} from '../../backup/storage/backup-storage.js';
import { HsmError } from '../../errors/index.js';

/** Where and how to reach the bucket. Credentials are never here: they come from the SDK's chain. */
export interface S3BackupStorageOptions {
  bucket: string;
  /** Key prefix ("folder"), without leading or trailing slash; default none. */
  prefix?: string;
  /** Endpoint of an S3-compatible service (MinIO, Ceph, s3rver); default AWS for `region`. */
  endpoint?: string;
  /** Region; default `AWS_REGION`, else `us-east-1`. */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`), needed by most non-AWS services; default true with `endpoint`. */
  forcePathStyle?: boolean;
  /** Server-side encryption header (`AES256` or `aws:kms`); default none. */
  serverSideEncryption?: 'AES256' | 'aws:kms';
  /** KMS key for `aws:kms`. */
  kmsKeyId?: string;
}

/** User-metadata key carrying the object's SHA-256 (`x-amz-meta-sha256`). */
const DIGEST_META = 'sha256';

/**
 * An S3 bucket (or prefix) as backup storage. Credentials come from the SDK's default provider
 * chain (environment, shared config, instance role) and never from hsmkit's configuration, so
 * they are never in config files, logs or error messages. Each object carries its SHA-256 as user
 * metadata, checked on `get`. `put` refuses an existing name (a HEAD first: S3 has no portable
 * create-only PUT; a bucket with versioning keeps a racing writer's object anyway).
 */
export class S3BackupStorage implements BackupStorage {
  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(private readonly opts: S3BackupStorageOptions) {
    const prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.prefix = prefix === '' ? '' : `${prefix}/`;
    this.client = new S3Client({
      region: opts.region ?? process.env.AWS_REGION ?? 'us-east-1',
      ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
      forcePathStyle: opts.forcePathStyle ?? opts.endpoint !== undefined,
      // Only what every S3-compatible service understands: the SDK's default CRC32 trailers are not.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  get location(): string {
    return `s3://${this.opts.bucket}/${this.prefix}`;
  }

  async put(name: string, data: Uint8Array): Promise<StoredBackup> {
    validateObjectName(name);
    const key = this.prefix + name;
    if (await this.exists(key)) {
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        `${this.location}: backup object "${name}" already exists (never overwritten)`,
      );
    }
    const sha256 = objectDigest(data);
    await this.call(name, (c) =>
      c.send(
        new PutObjectCommand({
          Bucket: this.opts.bucket,
          Key: key,
          Body: data,
          ContentType: 'application/json',
          Metadata: { [DIGEST_META]: sha256 },
          ...(this.opts.serverSideEncryption === undefined
            ? {}
            : { ServerSideEncryption: this.opts.serverSideEncryption as ServerSideEncryption }),
          ...(this.opts.kmsKeyId === undefined ? {} : { SSEKMSKeyId: this.opts.kmsKeyId }),
        }),
      ),
    );
    return { name, size: data.length, sha256 };
  }

  async get(name: string): Promise<Buffer> {
    validateObjectName(name);
    const r = await this.call(name, (c) =>
      c.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.prefix + name })),
    );
    const data = Buffer.from((await r.Body?.transformToByteArray()) ?? new Uint8Array());
    assertObjectDigest(this.location, name, data, r.Metadata?.[DIGEST_META]);
    return data;
  }

  async list(): Promise<StoredBackup[]> {
    const out: StoredBackup[] = [];
    let token: string | undefined;
    do {
      const r = await this.call('(list)', (c) =>
        c.send(
          new ListObjectsV2Command({
            Bucket: this.opts.bucket,
            Prefix: this.prefix,
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        ),
      );
      for (const o of r.Contents ?? []) {
        const name = (o.Key ?? '').slice(this.prefix.length);
        if (name === '' || name.includes('/')) continue;
        out.push({
          name,
          size: o.Size ?? 0,
          ...(o.LastModified ? { modifiedAt: o.LastModified.toISOString() } : {}),
        });
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async delete(name: string): Promise<void> {
    validateObjectName(name);
    const key = this.prefix + name;
    if (!(await this.exists(key)))
      throw new HsmError('HSM_ERR_NOT_FOUND', `${this.location}: no backup object "${name}"`);
    await this.call(name, (c) => c.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: key })));
  }

  /** Releases the SDK's sockets. */
  close(): void {
    this.client.destroy();
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: key }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.sdkError(err, key.slice(this.prefix.length));
    }
  }

  /** Runs one SDK call, mapping its failure to an HsmError about `name`. */
  private async call<T>(name: string, fn: (client: S3Client) => Promise<T>): Promise<T> {
    try {
      return await fn(this.client);
    } catch (err) {
      throw this.sdkError(err, name);
    }
  }

  /** Maps an SDK error to a code; the message names the object and the S3 error name only. */
  private sdkError(err: unknown, name: string): HsmError {
    if (isNotFound(err))
      return new HsmError('HSM_ERR_NOT_FOUND', `${this.location}: no backup object "${name}"`);
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    const what = `${e.name ?? 'error'}${status === undefined ? '' : ` (HTTP ${status})`}`;
    if (status === 401 || status === 403)
      return new HsmError('HSM_ERR_AUTH', `${this.location}: access to "${name}" refused: ${what}`);
    return new HsmError('HSM_ERR_UNAVAILABLE', `${this.location}: "${name}" failed: ${what}`);
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}
