/**
 * A local fake of the Cloud KMS REST surface (v1, HTTP/1.1 + JSON), for contract tests of the
 * gcpkms adapter. It serves only the endpoints the adapter uses, validates requests strictly
 * (unknown fields, a digest without digestCrc32c, a protection level other than HSM: 400), checks
 * and computes CRC32C, and can inject faults. It is the HSM stand-in: keys are generated and held
 * with node:crypto in this process. Prehash signatures (RSA, ECDSA) are made by `openssl pkeyutl`,
 * because node:crypto cannot sign a digest it did not compute.
 *
 * ML-DSA is a structural stand-in only: Node 20 and OpenSSL 3.0 have no ML-DSA, so its "public
 * keys" and "signatures" are random bytes of the FIPS 204 sizes. They exercise the wire format
 * (NIST_PQC public keys, data signing with dataCrc32c), never the cryptography.
 *
 * Test code only; never shipped in src/.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject, sign as nodeSign, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '../../src/adapters/gcpkms/crc32c.js';

// ---- wire enums (google.cloud.kms.v1), by number as the REST transport sends them ----

const PROTECTION: Record<string, number> = {
  SOFTWARE: 1,
  HSM: 2,
  EXTERNAL: 3,
  EXTERNAL_VPC: 4,
  HSM_SINGLE_TENANT: 5,
};
const PURPOSE: Record<string, number> = {
  ENCRYPT_DECRYPT: 1,
  ASYMMETRIC_SIGN: 5,
  ASYMMETRIC_DECRYPT: 6,
  RAW_ENCRYPT_DECRYPT: 7,
  MAC: 9,
  KEY_ENCAPSULATION: 10,
  AES_WRAPPING: 11,
};
const STATE: Record<string, number> = {
  ENABLED: 1,
  DISABLED: 2,
  DESTROYED: 3,
  DESTROY_SCHEDULED: 4,
  PENDING_GENERATION: 5,
};
const PUBLIC_KEY_FORMAT: Record<string, number> = { PEM: 1, DER: 2, NIST_PQC: 3 };

/** What the fake can generate, per Cloud KMS algorithm (the enum numbers are the proto's). */
interface AlgorithmSpec {
  number: number;
  kind: 'rsa-pkcs1' | 'rsa-pss' | 'ecdsa' | 'ed25519' | 'ml-dsa';
  hash?: 'sha256' | 'sha384' | 'sha512';
  bits?: number;
  curve?: 'P-256' | 'P-384';
  /** ML-DSA public key and signature sizes (FIPS 204). */
  pq?: { publicKey: number; signature: number };
}

const ALGORITHMS: Record<string, AlgorithmSpec> = {
  RSA_SIGN_PSS_2048_SHA256: { number: 2, kind: 'rsa-pss', hash: 'sha256', bits: 2048 },
  RSA_SIGN_PSS_3072_SHA256: { number: 3, kind: 'rsa-pss', hash: 'sha256', bits: 3072 },
  RSA_SIGN_PSS_4096_SHA256: { number: 4, kind: 'rsa-pss', hash: 'sha256', bits: 4096 },
  RSA_SIGN_PSS_4096_SHA512: { number: 15, kind: 'rsa-pss', hash: 'sha512', bits: 4096 },
  RSA_SIGN_PKCS1_2048_SHA256: { number: 5, kind: 'rsa-pkcs1', hash: 'sha256', bits: 2048 },
  RSA_SIGN_PKCS1_3072_SHA256: { number: 6, kind: 'rsa-pkcs1', hash: 'sha256', bits: 3072 },
  RSA_SIGN_PKCS1_4096_SHA256: { number: 7, kind: 'rsa-pkcs1', hash: 'sha256', bits: 4096 },
  RSA_SIGN_PKCS1_4096_SHA512: { number: 16, kind: 'rsa-pkcs1', hash: 'sha512', bits: 4096 },
  EC_SIGN_P256_SHA256: { number: 12, kind: 'ecdsa', hash: 'sha256', curve: 'P-256' },
  EC_SIGN_P384_SHA384: { number: 13, kind: 'ecdsa', hash: 'sha384', curve: 'P-384' },
  EC_SIGN_ED25519: { number: 40, kind: 'ed25519' },
  PQ_SIGN_ML_DSA_44: { number: 68, kind: 'ml-dsa', pq: { publicKey: 1312, signature: 2420 } },
  PQ_SIGN_ML_DSA_65: { number: 56, kind: 'ml-dsa', pq: { publicKey: 1952, signature: 3309 } },
  PQ_SIGN_ML_DSA_87: { number: 69, kind: 'ml-dsa', pq: { publicKey: 2592, signature: 4627 } },
};

const DIGEST_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const;

// ---- state ----

/** One key version held by the fake. */
interface FakeVersion {
  name: string;
  algorithm: string;
  protectionLevel: string;
  state: string;
  /** Reads left before a PENDING_GENERATION version becomes ENABLED. */
  pendingReads: number;
  privateKey?: KeyObject;
  publicPem?: string;
  /** ML-DSA stand-in public key bytes. */
  pqPublic?: Uint8Array;
  createTime: string;
}

interface FakeKey {
  name: string;
  purpose: string;
  protectionLevel: string;
  algorithm: string;
  versions: FakeVersion[];
  createTime: string;
}

/** One request as the fake received it. */
export interface RecordedRequest {
  rpc: string;
  method: string;
  path: string;
  query: Record<string, string>;
  body: Record<string, unknown> | undefined;
}

/** An RPC name as the fake counts it. */
export type FakeRpc =
  | 'createKeyRing'
  | 'getKeyRing'
  | 'createCryptoKey'
  | 'getCryptoKey'
  | 'listCryptoKeys'
  | 'createCryptoKeyVersion'
  | 'getCryptoKeyVersion'
  | 'listCryptoKeyVersions'
  | 'getPublicKey'
  | 'asymmetricSign'
  | 'destroyCryptoKeyVersion';

class RpcError extends Error {
  constructor(
    readonly http: number,
    readonly status: string,
    message: string,
  ) {
    super(message);
  }
}

const bad = (message: string) => new RpcError(400, 'INVALID_ARGUMENT', message);
const notFound = (name: string) => new RpcError(404, 'NOT_FOUND', `${name} not found`);
const precondition = (message: string) => new RpcError(400, 'FAILED_PRECONDITION', message);

/** Rejects fields other than `allowed` (the strictness the contract tests rely on). */
function only(obj: unknown, allowed: string[], where: string): Record<string, unknown> {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw bad(`${where} must be an object`);
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw bad(`Invalid JSON payload received. Unknown name "${k}" at '${where}'`);
  }
  return obj as Record<string, unknown>;
}

/** An enum field as number or name, returned as the name. */
function enumValue(table: Record<string, number>, value: unknown, field: string): string {
  const name =
    typeof value === 'number'
      ? Object.keys(table).find((k) => table[k] === value)
      : typeof value === 'string'
        ? value
        : undefined;
  if (name === undefined || !Object.hasOwn(table, name))
    throw bad(`invalid value for ${field}: ${String(value)}`);
  return name;
}

function uint32(wrapper: unknown, field: string): number {
  // Int64Value travels as a JSON string (proto3 JSON); a number is accepted too.
  const n = Number(wrapper);
  if (
    (typeof wrapper !== 'string' && typeof wrapper !== 'number') ||
    !Number.isInteger(n) ||
    n < 0 ||
    n > 0xffffffff
  ) {
    throw bad(`${field} must be an unsigned 32-bit integer`);
  }
  return n;
}

function base64(value: unknown, field: string): Buffer {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value))
    throw bad(`${field} must be base64`);
  return Buffer.from(value, 'base64');
}

const ID = /^[a-zA-Z0-9_-]{1,63}$/;

/** One REST route: method, path pattern (group 1 is the resource name), RPC, allowed query. */
interface Route {
  method: string;
  re: RegExp;
  rpc: FakeRpc;
  query: string[];
  hasBody: boolean;
  run: (name: string, query: Record<string, string>, body: Record<string, unknown>) => unknown;
}

/** The fake Cloud KMS server. */
export class GcpKmsFake {
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  /** Listing page size, small so that clients must follow nextPageToken. */
  pageSize = 2;
  private readonly rings = new Map<string, { name: string; createTime: string }>();
  private readonly keys = new Map<string, FakeKey>();
  private readonly dir = mkdtempSync(join(tmpdir(), 'gcpkms-fake-'));
  private quota: { times: number; rpc: FakeRpc | undefined } = { times: 0, rpc: undefined };
  private pendingPolls = 0;
  private corruptSignatureCrc = 0;
  private corruptPem = 0;
  private unverifiedDigest = 0;

  private constructor(
    private readonly server: Server,
    /** The TCP port on 127.0.0.1. */
    readonly port: number,
  ) {}

  /** Starts the fake on 127.0.0.1 with a random port. */
  static async start(): Promise<GcpKmsFake> {
    let fake: GcpKmsFake | undefined;
    const server = createServer((req, res) => void fake!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake = new GcpKmsFake(server, (server.address() as { port: number }).port);
    return fake;
  }

  /** Stops the server and deletes the fake's key files. */
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Requests received for one RPC (faulted ones included). */
  hits(rpc: FakeRpc): number {
    return this.requests.filter((r) => r.rpc === rpc).length;
  }

  /** The requests received for one RPC. */
  requestsFor(rpc: FakeRpc): RecordedRequest[] {
    return this.requests.filter((r) => r.rpc === rpc);
  }

  /** Answers the next `times` requests (to `rpc`, or to any) with 429 RESOURCE_EXHAUSTED. */
  injectQuotaExhausted(times: number, rpc?: FakeRpc): void {
    this.quota = { times, rpc };
  }

  /** Versions created from now on stay PENDING_GENERATION for `polls` reads. */
  injectPendingGeneration(polls: number): void {
    this.pendingPolls = polls;
  }

  /** The next `times` asymmetricSign answers carry a wrong signatureCrc32c. */
  injectCorruptSignatureCrc32c(times: number): void {
    this.corruptSignatureCrc = times;
  }

  /** The next `times` public keys are corrupted in transit: the PEM changes, pemCrc32c does not. */
  injectCorruptPublicKeyPem(times: number): void {
    this.corruptPem = times;
  }

  /** The next `times` asymmetricSign answers claim the digest CRC32C was not verified. */
  injectUnverifiedDigest(times: number): void {
    this.unverifiedDigest = times;
  }

  /**
   * Plants a key directly, bypassing the API's checks, e.g. a SOFTWARE-protected key (which the
   * fake's create endpoint refuses) to test that the adapter will not use it.
   */
  plantKey(keyRing: string, id: string, algorithm: string, protectionLevel: string): void {
    if (!this.rings.has(keyRing))
      this.rings.set(keyRing, { name: keyRing, createTime: new Date().toISOString() });
    const name = `${keyRing}/cryptoKeys/${id}`;
    const key: FakeKey = {
      name,
      purpose: 'ASYMMETRIC_SIGN',
      protectionLevel,
      algorithm,
      versions: [],
      createTime: new Date().toISOString(),
    };
    this.keys.set(name, key);
    this.addVersion(key);
  }

  /** Sets a version's state directly (e.g. DISABLED). */
  setVersionState(versionName: string, state: keyof typeof STATE): void {
    this.version(versionName).state = state;
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(url.searchParams);
    const numeric = query.$alt === 'json;enum-encoding=int';
    let rpc = 'unknown';
    try {
      const raw = await readBody(req);
      let body: Record<string, unknown> | undefined;
      if (raw.length > 0) {
        try {
          const parsed: unknown = JSON.parse(raw);
          // google-gax sends an empty body message as the JSON string "" (JSON.stringify of the
          // transcoder's empty data); Cloud KMS reads it as the empty message.
          body = parsed === '' ? {} : (parsed as Record<string, unknown>);
        } catch {
          throw bad('the body is not JSON');
        }
      }
      const { route, name } = this.route(req.method ?? 'GET', url.pathname);
      rpc = route.rpc;
      this.requests.push({ rpc, method: req.method ?? 'GET', path: url.pathname, query, body });
      for (const k of Object.keys(query)) {
        if (k !== '$alt' && !route.query.includes(k)) throw bad(`unknown query parameter "${k}"`);
      }
      // An empty message may travel as an empty body (the REST client sends nothing for `{}`).
      if (!route.hasBody && body !== undefined) throw bad('this method takes no body');
      if (this.quota.times > 0 && (this.quota.rpc === undefined || this.quota.rpc === rpc)) {
        this.quota.times--;
        throw new RpcError(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded for quota metric (fake)');
      }
      const answer = route.run(name, query, body ?? {});
      send(res, 200, encodeEnums(answer, numeric));
    } catch (err) {
      const e = err instanceof RpcError ? err : new RpcError(500, 'INTERNAL', String(err));
      send(res, e.http, { error: { code: e.http, message: e.message, status: e.status } });
    }
  }

  /** The routes of the REST surface the adapter uses (paths from the google.cloud.kms.v1 HTTP rules). */
  private readonly routes: Route[] = (() => {
    const loc = 'projects/[^/]+/locations/[^/]+';
    const ring = `${loc}/keyRings/[^/]+`;
    const key = `${ring}/cryptoKeys/[^/]+`;
    const ver = `${key}/cryptoKeyVersions/[^/]+`;
    const r = (
      method: string,
      re: string,
      suffix: string,
      rpc: FakeRpc,
      query: string[],
      hasBody: boolean,
      run: Route['run'],
    ): Route => ({ method, re: new RegExp(`^/v1/(${re})${suffix}$`), rpc, query, hasBody, run });
    return [
      r('POST', loc, '/keyRings', 'createKeyRing', ['keyRingId'], true, (n, q, b) =>
        this.createKeyRing(n, q, b),
      ),
      r('GET', ring, '', 'getKeyRing', [], false, (n) => this.ring(n)),
      r(
        'POST',
        ring,
        '/cryptoKeys',
        'createCryptoKey',
        ['cryptoKeyId', 'skipInitialVersionCreation'],
        true,
        (n, q, b) => this.createCryptoKey(n, q, b),
      ),
      r(
        'GET',
        ring,
        '/cryptoKeys',
        'listCryptoKeys',
        ['pageSize', 'pageToken', 'versionView'],
        false,
        (n, q) => this.listCryptoKeys(n, q),
      ),
      r('GET', key, '', 'getCryptoKey', [], false, (n) => keyJson(this.key(n))),
      r('POST', key, '/cryptoKeyVersions', 'createCryptoKeyVersion', [], true, (n, _q, b) =>
        this.createVersion(n, b),
      ),
      r(
        'GET',
        key,
        '/cryptoKeyVersions',
        'listCryptoKeyVersions',
        ['pageSize', 'pageToken', 'view'],
        false,
        (n, q) => this.listVersions(n, q),
      ),
      r('GET', ver, '', 'getCryptoKeyVersion', [], false, (n) => this.readVersion(n)),
      r('GET', ver, '/publicKey', 'getPublicKey', ['publicKeyFormat'], false, (n, q) => this.publicKey(n, q)),
      r('POST', ver, ':asymmetricSign', 'asymmetricSign', [], true, (n, _q, b) => this.sign(n, b)),
      r('POST', ver, ':destroy', 'destroyCryptoKeyVersion', [], true, (n, _q, b) => this.destroy(n, b)),
    ];
  })();

  private route(method: string, path: string): { route: Route; name: string } {
    for (const route of this.routes) {
      const m = route.method === method ? route.re.exec(path) : null;
      if (m) return { route, name: m[1]! };
    }
    throw new RpcError(404, 'NOT_FOUND', `no route for ${method} ${path} in the fake`);
  }

  // ---- resources ----

  private ring(name: string) {
    const r = this.rings.get(name);
    if (!r) throw notFound(name);
    return r;
  }

  private key(name: string): FakeKey {
    const k = this.keys.get(name);
    if (!k) throw notFound(name);
    return k;
  }

  private version(name: string): FakeVersion {
    const keyName = name.replace(/\/cryptoKeyVersions\/[^/]+$/, '');
    const v = this.key(keyName).versions.find((x) => x.name === name);
    if (!v) throw notFound(name);
    return v;
  }

  private createKeyRing(parent: string, q: Record<string, string>, b: Record<string, unknown>) {
    only(b, [], 'key_ring');
    const id = q.keyRingId ?? '';
    if (!ID.test(id)) throw bad('keyRingId must match [a-zA-Z0-9_-]{1,63}');
    const name = `${parent}/keyRings/${id}`;
    if (this.rings.has(name)) throw new RpcError(409, 'ALREADY_EXISTS', `${name} already exists`);
    const r = { name, createTime: new Date().toISOString() };
    this.rings.set(name, r);
    return r;
  }

  private createCryptoKey(parent: string, q: Record<string, string>, b: Record<string, unknown>) {
    this.ring(parent);
    const id = q.cryptoKeyId ?? '';
    if (!ID.test(id)) throw bad('cryptoKeyId must match [a-zA-Z0-9_-]{1,63}');
    if (q.skipInitialVersionCreation !== undefined)
      throw bad('the fake does not implement skipInitialVersionCreation');
    const body = only(
      b,
      [
        'purpose',
        'versionTemplate',
        'labels',
        'nextRotationTime',
        'rotationPeriod',
        'importOnly',
        'destroyScheduledDuration',
        'cryptoKeyBackend',
      ],
      'crypto_key',
    );
    const purpose = enumValue(PURPOSE, body.purpose, 'crypto_key.purpose');
    // As Cloud KMS: automatic rotation exists for ENCRYPT_DECRYPT keys only.
    if (
      (body.rotationPeriod !== undefined || body.nextRotationTime !== undefined) &&
      purpose !== 'ENCRYPT_DECRYPT'
    ) {
      throw bad('rotation_period and next_rotation_time are only supported for ENCRYPT_DECRYPT keys');
    }
    if (purpose !== 'ASYMMETRIC_SIGN') throw bad(`the fake serves ASYMMETRIC_SIGN keys only, not ${purpose}`);
    if (body.importOnly === true) throw bad('the fake does not implement import_only');
    const template = only(
      body.versionTemplate,
      ['protectionLevel', 'algorithm'],
      'crypto_key.version_template',
    );
    const protectionLevel = enumValue(
      PROTECTION,
      template.protectionLevel,
      'version_template.protection_level',
    );
    // The HSM stand-in: anything but HSM would be a software key, which must never be asked for.
    if (protectionLevel !== 'HSM')
      throw bad(`the fake is an HSM: protection_level must be HSM, not ${protectionLevel}`);
    const algorithm = enumValue(
      Object.fromEntries(Object.entries(ALGORITHMS).map(([k, v]) => [k, v.number])),
      template.algorithm,
      'version_template.algorithm',
    );
    const name = `${parent}/cryptoKeys/${id}`;
    if (this.keys.has(name)) throw new RpcError(409, 'ALREADY_EXISTS', `${name} already exists`);
    const key: FakeKey = {
      name,
      purpose,
      protectionLevel,
      algorithm,
      versions: [],
      createTime: new Date().toISOString(),
    };
    this.keys.set(name, key);
    this.addVersion(key);
    return keyJson(key);
  }

  private createVersion(keyName: string, b: Record<string, unknown>) {
    only(b, [], 'crypto_key_version');
    return versionJson(this.addVersion(this.key(keyName)));
  }

  private addVersion(key: FakeKey): FakeVersion {
    const spec = ALGORITHMS[key.algorithm]!;
    const v: FakeVersion = {
      name: `${key.name}/cryptoKeyVersions/${key.versions.length + 1}`,
      algorithm: key.algorithm,
      protectionLevel: key.protectionLevel,
      state: this.pendingPolls > 0 ? 'PENDING_GENERATION' : 'ENABLED',
      pendingReads: this.pendingPolls,
      createTime: new Date().toISOString(),
    };
    if (spec.kind === 'ml-dsa') {
      v.pqPublic = randomBytes(spec.pq!.publicKey);
    } else {
      const pair =
        spec.kind === 'ed25519'
          ? generateKeyPairSync('ed25519')
          : spec.kind === 'ecdsa'
            ? generateKeyPairSync('ec', { namedCurve: spec.curve! })
            : generateKeyPairSync('rsa', { modulusLength: spec.bits!, publicExponent: 65537 });
      v.privateKey = pair.privateKey;
      v.publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    }
    key.versions.push(v);
    return v;
  }

  private readVersion(name: string) {
    const v = this.version(name);
    // Each read while generation is "running" uses up one poll; the read after the last one
    // finds the version ENABLED.
    if (v.state === 'PENDING_GENERATION') {
      if (v.pendingReads > 0) v.pendingReads--;
      else v.state = 'ENABLED';
    }
    return versionJson(v);
  }

  private listCryptoKeys(parent: string, q: Record<string, string>) {
    this.ring(parent);
    const all = [...this.keys.values()]
      .filter((k) => k.name.startsWith(`${parent}/cryptoKeys/`))
      .map(keyJson);
    return this.page(all, q, 'cryptoKeys');
  }

  private listVersions(keyName: string, q: Record<string, string>) {
    return this.page(this.key(keyName).versions.map(versionJson), q, 'cryptoKeyVersions');
  }

  private page(all: unknown[], q: Record<string, string>, field: string) {
    const size = q.pageSize === undefined ? this.pageSize : Number(q.pageSize);
    const start = q.pageToken === undefined ? 0 : Number(Buffer.from(q.pageToken, 'base64url').toString());
    if (!Number.isInteger(size) || size < 1 || !Number.isInteger(start) || start < 0)
      throw bad('bad page token or size');
    const items = all.slice(start, start + size);
    const next = start + size < all.length ? Buffer.from(String(start + size)).toString('base64url') : '';
    return { [field]: items, ...(next ? { nextPageToken: next } : {}), totalSize: all.length };
  }

  private publicKey(name: string, q: Record<string, string>) {
    const v = this.version(name);
    if (v.state !== 'ENABLED') throw precondition(`${name} is not in state ENABLED (${v.state})`);
    const spec = ALGORITHMS[v.algorithm]!;
    const format =
      q.publicKeyFormat === undefined
        ? undefined
        : enumValue(
            PUBLIC_KEY_FORMAT,
            Number.isNaN(Number(q.publicKeyFormat)) ? q.publicKeyFormat : Number(q.publicKeyFormat),
            'public_key_format',
          );
    const base = { name, algorithm: v.algorithm, protectionLevel: v.protectionLevel };
    if (spec.kind === 'ml-dsa') {
      if (format !== 'NIST_PQC') throw bad('public_key_format NIST_PQC is required for PQC algorithms');
      return {
        ...base,
        publicKeyFormat: 'NIST_PQC',
        publicKey: {
          data: Buffer.from(v.pqPublic!).toString('base64'),
          crc32cChecksum: String(crc32c(v.pqPublic!)),
        },
      };
    }
    if (format !== undefined) throw bad('the fake serves PEM (no public_key_format) for classical keys');
    let pem = v.publicPem!;
    const crc = crc32c(pem);
    if (this.corruptPem > 0) {
      this.corruptPem--;
      // Flip one base64 character in the body: what a bit error in transit looks like.
      const i = pem.indexOf('\n') + 40;
      pem = pem.slice(0, i) + (pem[i] === 'A' ? 'B' : 'A') + pem.slice(i + 1);
    }
    return { ...base, pem, pemCrc32c: String(crc) };
  }

  private sign(name: string, b: Record<string, unknown>) {
    const body = only(b, ['digest', 'digestCrc32c', 'data', 'dataCrc32c'], 'asymmetric_sign_request');
    const v = this.version(name);
    if (v.state !== 'ENABLED') throw precondition(`${name} is not in state ENABLED (${v.state})`);
    const spec = ALGORITHMS[v.algorithm]!;
    const hasDigest = body.digest !== undefined;
    const hasData = body.data !== undefined;
    if (hasDigest === hasData) throw bad('exactly one of digest and data is required');
    let signature: Buffer;
    const out: Record<string, unknown> = { name, protectionLevel: v.protectionLevel };
    if (hasDigest) {
      if (spec.kind === 'ed25519' || spec.kind === 'ml-dsa')
        throw bad(`${v.algorithm} signs data, not a digest`);
      const d = only(body.digest, ['sha256', 'sha384', 'sha512'], 'digest');
      const kinds = Object.keys(d);
      if (kinds.length !== 1) throw bad('digest must hold exactly one of sha256, sha384, sha512');
      if (kinds[0] !== spec.hash) throw bad(`${v.algorithm} needs a ${spec.hash} digest, got ${kinds[0]}`);
      const digest = base64(d[kinds[0]!], `digest.${kinds[0]}`);
      if (digest.length !== DIGEST_BYTES[spec.hash!]) throw bad(`digest.${spec.hash} has the wrong length`);
      // The contract: hsmkit always sends the digest's CRC32C.
      if (body.digestCrc32c === undefined) throw bad('digest_crc32c is required by this fake');
      if (uint32(body.digestCrc32c, 'digest_crc32c') !== crc32c(digest)) {
        throw bad('The checksum in field digest_crc32c did not match the data in field digest.');
      }
      signature = this.signDigest(v, spec, digest);
      out.verifiedDigestCrc32c = true;
    } else {
      if (spec.kind !== 'ed25519' && spec.kind !== 'ml-dsa')
        throw bad(`${v.algorithm} signs a digest, not data`);
      const data = base64(body.data, 'data');
      if (body.dataCrc32c === undefined) throw bad('data_crc32c is required by this fake');
      if (uint32(body.dataCrc32c, 'data_crc32c') !== crc32c(data)) {
        throw bad('The checksum in field data_crc32c did not match the data in field data.');
      }
      signature =
        spec.kind === 'ed25519' ? nodeSign(null, data, v.privateKey!) : randomBytes(spec.pq!.signature);
      out.verifiedDataCrc32c = true;
    }
    if (this.unverifiedDigest > 0) {
      this.unverifiedDigest--;
      out.verifiedDigestCrc32c = false;
      out.verifiedDataCrc32c = false;
    }
    let crc = crc32c(signature);
    if (this.corruptSignatureCrc > 0) {
      this.corruptSignatureCrc--;
      crc = (crc ^ 0x1) >>> 0;
    }
    return { ...out, signature: signature.toString('base64'), signatureCrc32c: String(crc) };
  }

  /** Signs a prehash with `openssl pkeyutl` (node:crypto always hashes its input itself). */
  private signDigest(v: FakeVersion, spec: AlgorithmSpec, digest: Buffer): Buffer {
    const keyFile = join(this.dir, `${v.name.replace(/[^a-zA-Z0-9]/g, '_')}.pem`);
    writeFileSync(keyFile, v.privateKey!.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const opts = ['-pkeyopt', `digest:${spec.hash}`];
    if (spec.kind === 'rsa-pss')
      opts.push('-pkeyopt', 'rsa_padding_mode:pss', '-pkeyopt', 'rsa_pss_saltlen:digest');
    const r = spawnSync('openssl', ['pkeyutl', '-sign', '-inkey', keyFile, ...opts], {
      input: digest,
      timeout: 30_000,
    });
    if (r.status !== 0)
      throw new RpcError(500, 'INTERNAL', `openssl pkeyutl failed: ${r.stderr?.toString()}`);
    return r.stdout;
  }

  private destroy(name: string, b: Record<string, unknown>) {
    only(b, [], 'destroy_crypto_key_version_request');
    const v = this.version(name);
    if (v.state !== 'ENABLED' && v.state !== 'DISABLED')
      throw precondition(`${name} is ${v.state}; it cannot be destroyed`);
    v.state = 'DESTROY_SCHEDULED';
    return versionJson(v);
  }
}

function keyJson(k: FakeKey) {
  return {
    name: k.name,
    purpose: k.purpose,
    createTime: k.createTime,
    versionTemplate: { protectionLevel: k.protectionLevel, algorithm: k.algorithm },
    destroyScheduledDuration: '86400s',
  };
}

function versionJson(v: FakeVersion) {
  return {
    name: v.name,
    state: v.state,
    protectionLevel: v.protectionLevel,
    algorithm: v.algorithm,
    createTime: v.createTime,
    ...(v.state === 'ENABLED' ? { generateTime: v.createTime } : {}),
  };
}

const ENUM_FIELDS: Record<string, Record<string, number>> = {
  purpose: PURPOSE,
  protectionLevel: PROTECTION,
  state: STATE,
  publicKeyFormat: PUBLIC_KEY_FORMAT,
  algorithm: Object.fromEntries(Object.entries(ALGORITHMS).map(([k, v]) => [k, v.number])),
};

/** With `$alt=json;enum-encoding=int` (which the REST client asks for), enums go out as numbers. */
function encodeEnums(value: unknown, numeric: boolean): unknown {
  if (!numeric || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((x) => encodeEnums(x, numeric));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      const table = ENUM_FIELDS[k];
      if (table && typeof v === 'string' && Object.hasOwn(table, v)) return [k, table[v]];
      return [k, encodeEnums(v, numeric)];
    }),
  );
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
