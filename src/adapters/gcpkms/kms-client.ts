/**
 * The narrow seam over @google-cloud/kms: the subset of KeyManagementServiceClient that the
 * adapter uses, with answers normalised to plain values (enums as names, Int64Value wrappers as
 * numbers, bytes as Uint8Array). It is the only file that imports the client, so the adapter can
 * be driven by another KmsApi in unit tests (after pkcs11key's "ctx" seam).
 */
import { KeyManagementServiceClient, protos } from '@google-cloud/kms';
import { HsmError } from '../../errors/index.js';
import { type Connection, connectionOptions } from './connection.js';

const v1 = protos.google.cloud.kms.v1;

/** A key ring as the service reports it. */
export interface KmsKeyRing {
  name: string;
}

/** A crypto key: its purpose and the template its versions are made from. */
export interface KmsCryptoKey {
  name: string;
  purpose: string;
  protectionLevel: string;
  algorithm: string;
}

/** A crypto key version (the actual key pair). */
export interface KmsVersion {
  name: string;
  state: string;
  algorithm: string;
  protectionLevel: string;
  /** Set when the key material was imported rather than generated in the HSM. */
  importJob: string;
  generationFailureReason: string;
}

/** A version's public key, with the integrity fields as sent. */
export interface KmsPublicKey {
  name: string;
  algorithm: string;
  protectionLevel: string;
  pem: string;
  pemCrc32c: number | undefined;
  /** The `public_key` field (NIST_PQC and other explicit formats). */
  data: Uint8Array | undefined;
  dataCrc32c: number | undefined;
}

/** One asymmetricSign request: a digest or the data, each with its CRC32C. */
export interface KmsSignRequest {
  name: string;
  digest?: { sha256: Uint8Array } | { sha384: Uint8Array } | { sha512: Uint8Array };
  digestCrc32c?: number;
  data?: Uint8Array;
  dataCrc32c?: number;
}

/** The answer to asymmetricSign, with the integrity fields as sent. */
export interface KmsSignResponse {
  name: string;
  signature: Uint8Array;
  signatureCrc32c: number | undefined;
  verifiedDigestCrc32c: boolean;
  verifiedDataCrc32c: boolean;
  protectionLevel: string;
}

/** A page of a listing. */
export interface KmsPage<T> {
  items: T[];
  nextPageToken: string;
}

/** The Cloud KMS calls hsmkit makes. Each is one RPC; retries live in retry-policy.ts. */
export interface KmsApi {
  createKeyRing(parent: string, keyRingId: string): Promise<KmsKeyRing>;
  createCryptoKey(
    parent: string,
    cryptoKeyId: string,
    template: { algorithm: string; protectionLevel: 'HSM' },
  ): Promise<KmsCryptoKey>;
  getCryptoKey(name: string): Promise<KmsCryptoKey>;
  createCryptoKeyVersion(parent: string): Promise<KmsVersion>;
  getCryptoKeyVersion(name: string): Promise<KmsVersion>;
  listCryptoKeys(parent: string, pageToken: string): Promise<KmsPage<KmsCryptoKey>>;
  listCryptoKeyVersions(parent: string, pageToken: string): Promise<KmsPage<KmsVersion>>;
  /** `format` NIST_PQC for post-quantum keys; omitted, the service answers with PEM. */
  getPublicKey(name: string, format?: 'NIST_PQC'): Promise<KmsPublicKey>;
  asymmetricSign(req: KmsSignRequest): Promise<KmsSignResponse>;
  destroyCryptoKeyVersion(name: string): Promise<KmsVersion>;
  close(): Promise<void>;
}

type Enum = Record<string | number, string | number>;

// The REST transport already yields enum names; numbers are mapped too in case a caller
// configures the client to keep them.
function enumName(e: Enum, value: unknown): string {
  if (typeof value === 'number') return String(e[value] ?? value);
  return typeof value === 'string' ? value : '';
}

function int64(wrapper: { value?: unknown } | null | undefined): number | undefined {
  const v = wrapper?.value;
  if (v === undefined || v === null) return undefined;
  const n = Number(typeof v === 'object' ? String(v) : v);
  return Number.isSafeInteger(n) ? n : undefined;
}

function bytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value, 'base64');
  return new Uint8Array(0);
}

const PROTECTION = v1.ProtectionLevel as unknown as Enum;
const ALGORITHM = v1.CryptoKeyVersion.CryptoKeyVersionAlgorithm as unknown as Enum;
const STATE = v1.CryptoKeyVersion.CryptoKeyVersionState as unknown as Enum;
const PURPOSE = v1.CryptoKey.CryptoKeyPurpose as unknown as Enum;

function cryptoKey(k: protos.google.cloud.kms.v1.ICryptoKey): KmsCryptoKey {
  return {
    name: k.name ?? '',
    purpose: enumName(PURPOSE, k.purpose),
    protectionLevel: enumName(PROTECTION, k.versionTemplate?.protectionLevel),
    algorithm: enumName(ALGORITHM, k.versionTemplate?.algorithm),
  };
}

function version(v: protos.google.cloud.kms.v1.ICryptoKeyVersion): KmsVersion {
  return {
    name: v.name ?? '',
    state: enumName(STATE, v.state),
    algorithm: enumName(ALGORITHM, v.algorithm),
    protectionLevel: enumName(PROTECTION, v.protectionLevel),
    importJob: v.importJob ?? '',
    generationFailureReason: v.generationFailureReason ?? '',
  };
}

/** True when `name` is a value of the client's CryptoKeyVersionAlgorithm enum. */
export function isKnownAlgorithm(name: string): boolean {
  return Object.hasOwn(ALGORITHM, name) && typeof ALGORITHM[name] === 'number';
}

/** Opens a KmsApi over the official client's REST transport (HTTP/1.1 + JSON). */
export function openKmsApi(connection: Connection): KmsApi {
  const client = new KeyManagementServiceClient(connectionOptions(connection) as never);
  // google-gax would otherwise retry UNAVAILABLE on its own schedule; retry-policy.ts owns retries.
  const call = { retry: null, timeout: connection.timeoutMs };
  return {
    async createKeyRing(parent, keyRingId) {
      const [r] = await client.createKeyRing({ parent, keyRingId, keyRing: {} }, call);
      return { name: r.name ?? '' };
    },
    async createCryptoKey(parent, cryptoKeyId, template) {
      const [k] = await client.createCryptoKey(
        {
          parent,
          cryptoKeyId,
          cryptoKey: {
            purpose: 'ASYMMETRIC_SIGN',
            versionTemplate: {
              protectionLevel: template.protectionLevel,
              algorithm: template.algorithm as never,
            },
          },
        },
        call,
      );
      return cryptoKey(k);
    },
    async getCryptoKey(name) {
      return cryptoKey((await client.getCryptoKey({ name }, call))[0]);
    },
    async createCryptoKeyVersion(parent) {
      return version((await client.createCryptoKeyVersion({ parent, cryptoKeyVersion: {} }, call))[0]);
    },
    async getCryptoKeyVersion(name) {
      return version((await client.getCryptoKeyVersion({ name }, call))[0]);
    },
    async listCryptoKeys(parent, pageToken) {
      const [items, , raw] = await client.listCryptoKeys(
        { parent, ...(pageToken ? { pageToken } : {}) },
        { ...call, autoPaginate: false },
      );
      return { items: items.map(cryptoKey), nextPageToken: raw?.nextPageToken ?? '' };
    },
    async listCryptoKeyVersions(parent, pageToken) {
      const [items, , raw] = await client.listCryptoKeyVersions(
        { parent, ...(pageToken ? { pageToken } : {}) },
        { ...call, autoPaginate: false },
      );
      return { items: items.map(version), nextPageToken: raw?.nextPageToken ?? '' };
    },
    async getPublicKey(name, format) {
      const [p] = await client.getPublicKey({ name, ...(format ? { publicKeyFormat: format } : {}) }, call);
      return {
        name: p.name ?? '',
        algorithm: enumName(ALGORITHM, p.algorithm),
        protectionLevel: enumName(PROTECTION, p.protectionLevel),
        pem: p.pem ?? '',
        pemCrc32c: int64(p.pemCrc32c),
        data: p.publicKey?.data ? bytes(p.publicKey.data) : undefined,
        dataCrc32c: int64(p.publicKey?.crc32cChecksum),
      };
    },
    async asymmetricSign(req) {
      const [r] = await client.asymmetricSign(
        {
          name: req.name,
          ...(req.digest ? { digest: req.digest } : {}),
          ...(req.digestCrc32c === undefined ? {} : { digestCrc32c: { value: req.digestCrc32c } }),
          ...(req.data ? { data: req.data } : {}),
          ...(req.dataCrc32c === undefined ? {} : { dataCrc32c: { value: req.dataCrc32c } }),
        },
        call,
      );
      return {
        name: r.name ?? '',
        signature: bytes(r.signature),
        signatureCrc32c: int64(r.signatureCrc32c),
        verifiedDigestCrc32c: r.verifiedDigestCrc32c === true,
        verifiedDataCrc32c: r.verifiedDataCrc32c === true,
        protectionLevel: enumName(PROTECTION, r.protectionLevel),
      };
    },
    async destroyCryptoKeyVersion(name) {
      return version((await client.destroyCryptoKeyVersion({ name }, call))[0]);
    },
    async close() {
      await client.close();
    },
  };
}

/** Fails unless the client's protos define `name` (a guard for the algorithm table). */
export function assertKnownAlgorithm(name: string): void {
  if (!isKnownAlgorithm(name)) {
    throw new HsmError('HSM_ERR_MECHANISM_UNSUPPORTED', `this @google-cloud/kms does not define ${name}`);
  }
}
