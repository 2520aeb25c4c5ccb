/**
 * Entry point of a member host: a child process that owns one PKCS#11 module and token.
 * It talks to its parent over fd 3 (a socketpair) in length-prefixed batch frames, runs each
 * operation with synchronous pkcs11js calls (or async ones across the session pool for network
 * HSMs), and answers each batch with one frame. It never logs secrets: the PIN arrives in the
 * init message, is used for C_Login, and is never echoed.
 */
import { Socket } from 'node:net';
import { HsmError, toHsmError } from '../../../errors/index.js';
import { encodeFrame, FrameDecoder } from '../ipc/framing.js';
import { decodeBatch, type Entry, encodeBatch, opName } from '../ipc/messages.js';
import type {
  AttributesHeader,
  CapabilitiesHeader,
  FindHeader,
  GenerateHeader,
  InitHeader,
  ProbeOrigin,
  PublicKeyHeader,
  ReadyHeader,
  SignHeader,
  UnwrapPrivateHeader,
} from '../ipc/protocol.js';
import { padded } from '../p11.js';
import { destroyProbeObjects, type ProbeResult, probeCapabilities } from '../vendors/capability-probe.js';
import { hostStats } from './host-stats.js';
import { KeyOps } from './key-ops.js';
import { probeFingerprint } from './probe-fingerprint.js';
import { ReplicationOps } from './replication-ops.js';
import { TokenConnection } from './token-connection.js';

const sock = new Socket({ fd: 3, readable: true, writable: true });
const decoder = new FrameDecoder();
let conn: TokenConnection | undefined;
let ops: KeyOps | undefined;
let replication: ReplicationOps | undefined;
let chain: Promise<void> = Promise.resolve();
/**
 * The capability probe runs once per host, on the first capabilities request (at connect time),
 * unless that request brings a cached result taken under this host's fingerprint.
 */
let probe: { result: ProbeResult; origin: ProbeOrigin } | undefined;

process.title = 'hsmkit-member-host';

sock.on('data', (chunk: Buffer) => {
  let frames: Buffer[];
  try {
    frames = decoder.push(chunk);
  } catch {
    shutdown(2);
    return;
  }
  // A frame that cannot be decoded means the parent and host disagree on the protocol: stop, and
  // let the parent respawn a clean host, rather than leave an unhandled rejection behind.
  for (const frame of frames) chain = chain.then(() => handleFrame(frame)).catch(() => shutdown(2));
});
sock.on('end', () => shutdown(0));
sock.on('error', () => shutdown(0));

async function handleFrame(frame: Buffer): Promise<void> {
  const requests = decodeBatch(frame);
  const asyncMode = conn?.init.asyncOperations === true;
  const responses: Entry[] = asyncMode
    ? await Promise.all(requests.map((r) => runAsync(r)))
    : requests.map((r) => runSync(r));
  sock.write(encodeFrame(encodeBatch(responses)));
  const init = requests.find((r) => opName(r.tag) === 'init');
  // A failed init (bad PIN, missing token) leaves nothing to serve: exit once the answer is out.
  if (init && !ops) sock.end(() => shutdown(3));
}

async function runAsync(req: Entry): Promise<Entry> {
  if (opName(req.tag) !== 'sign') return runSync(req);
  try {
    const sig = await ops!.signAsync(req.header as SignHeader, Buffer.from(req.body ?? []));
    return { id: req.id, tag: 1, header: undefined, body: sig };
  } catch (err) {
    return errorEntry(req.id, err);
  }
}

function runSync(req: Entry): Entry {
  try {
    const { header, body } = execute(req);
    return body === undefined ? { id: req.id, tag: 1, header } : { id: req.id, tag: 1, header, body };
  } catch (err) {
    return errorEntry(req.id, err);
  }
}

function errorEntry(id: number, err: unknown): Entry {
  let e = toHsmError(err);
  // Vendor-defined CKR values mean what the vendor profile says, before the standard table.
  const vendorCode = e.ckr === undefined ? undefined : conn?.profile?.errorCodes[e.ckr];
  if (vendorCode !== undefined && vendorCode !== e.code) {
    e = HsmError.fromJSON({ ...e.toJSON(), code: vendorCode });
  }
  if (conn && e.member === undefined) return { id, tag: 0, header: { ...e.toJSON(), member: conn.member } };
  return { id, tag: 0, header: e.toJSON() };
}

function execute(req: Entry): { header?: unknown; body?: Uint8Array } {
  const op = opName(req.tag);
  if (op === 'init') return { header: initialise(req.header as InitHeader) };
  if (!ops || !conn) throw new HsmError('HSM_ERR_INTERNAL', 'member host not initialised');
  switch (op) {
    case 'sign':
      return { body: ops.sign(req.header as SignHeader, Buffer.from(req.body ?? [])) };
    case 'generateKeyPair':
      return { header: ops.generate(req.header as GenerateHeader) };
    case 'findKeys':
      return { header: ops.findKeys(req.header as FindHeader) };
    case 'publicKey':
      return { header: ops.publicKey((req.header as { id: string }).id) };
    case 'deleteKey':
      return { header: ops.deleteKey((req.header as { id: string }).id) };
    case 'attributes':
      return { header: ops.attributes(req.header as AttributesHeader) };
    case 'random':
      return { body: ops.random((req.header as { length: number }).length) };
    case 'capabilities':
      return { header: describe(req.header as CapabilitiesHeader | undefined) };
    case 'tokenInfo':
      return { header: describe(undefined) };
    case 'wrapPrivate':
      return { header: replication!.wrapPrivate(req.header as { id: string; wrappingLabel: string }) };
    case 'unwrapPrivate':
      return { header: replication!.unwrapPrivate(req.header as UnwrapPrivateHeader) };
    case 'createReplicationKey':
      return {
        header: replication!.createReplicationKey(req.header as { label: string; extractable: boolean }),
      };
    case 'transportKey':
      return { header: replication!.transportKey() };
    case 'wrapReplicationKeyFor':
      return {
        header: replication!.wrapReplicationKeyFor(
          req.header as { label: string; transport: PublicKeyHeader },
        ),
      };
    case 'unwrapReplicationKey':
      return { header: replication!.unwrapReplicationKey(req.header as { label: string; blob: string }) };
    case 'sealReplicationKey':
      return { header: replication!.sealReplicationKey(req.header as { label: string }) };
    case 'wrapSecretKeyUnderValue':
      return {
        header: replication!.wrapSecretKeyUnderValue(
          req.header as { label: string; mechanism?: number },
          // The decoded body itself (a Buffer of its own), so the op's zeroing reaches it.
          secretBody(req),
        ),
      };
    case 'unwrapSecretKeyUnderValue':
      return {
        header: replication!.unwrapSecretKeyUnderValue(
          req.header as { label: string; blob: string; mechanism?: number },
          // The decoded body itself (a Buffer of its own), so the op's zeroing reaches it.
          secretBody(req),
        ),
      };
    case 'sealPrivate':
      return { header: replication!.sealPrivate(req.header as { id: string }) };
    case 'stats':
      return { header: hostStats(conn, ops) };
    case 'ping':
      return { header: { generation: conn.generation, sessions: conn.pool.size } };
    default:
      throw new HsmError('HSM_ERR_INVALID_INPUT', `unknown member-host operation ${req.tag}`);
  }
}

/** A request body as the Buffer decodeBatch made (no copy left behind unzeroed). */
function secretBody(req: Entry): Buffer {
  const b = req.body;
  if (b === undefined) return Buffer.alloc(0);
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function initialise(init: InitHeader): ReadyHeader {
  if (conn) throw new HsmError('HSM_ERR_INTERNAL', 'member host already initialised');
  const started = performance.now();
  const c = new TokenConnection(init);
  c.connect();
  conn = c;
  ops = new KeyOps(c);
  replication = new ReplicationOps(c, ops);
  process.title = `hsmkit-member-host ${init.member}`;
  return {
    pid: process.pid,
    slotId: c.slot.readBigUInt64LE(0).toString(),
    tokenLabel: padded(c.tokenInfo.label),
    poolSize: c.pool.max,
    connectMs: performance.now() - started,
    ...fingerprintOf(c),
  };
}

/** The probe fingerprint for the ready answer; a token that cannot describe itself just gets no cache. */
function fingerprintOf(c: TokenConnection): { probeFingerprint?: string } {
  try {
    return { probeFingerprint: probeFingerprint(c) };
  } catch {
    return {};
  }
}

function describe(req: CapabilitiesHeader | undefined): unknown {
  const c = conn!;
  const info = c.p11.C_GetInfo();
  const t = c.p11.C_GetTokenInfo(c.slot);
  const v = (x: { major: number; minor: number }) => `${x.major}.${x.minor}`;
  // null = "no limit" (CK_EFFECTIVELY_INFINITE, 0) or "not reported" (CK_UNAVAILABLE_INFORMATION, all ones).
  const count = (n: number | bigint) => {
    const x = Number(n);
    return x === 0 || x === 0xffffffff || x >= 2 ** 53 || x < 0 ? null : x;
  };
  return {
    module: {
      path: c.init.module,
      symbols: c.init.symbols,
      ...(c.init.symbolsNote !== undefined ? { symbolsNote: c.init.symbolsNote } : {}),
      manufacturer: padded(info.manufacturerID),
      description: padded(info.libraryDescription),
      cryptokiVersion: v(info.cryptokiVersion),
      libraryVersion: v(info.libraryVersion),
    },
    token: {
      label: padded(t.label),
      manufacturer: padded(t.manufacturerID),
      model: padded(t.model),
      serial: padded(t.serialNumber),
      slotId: c.slot.readBigUInt64LE(0).toString(),
      flags: t.flags,
      maxSessions: count(t.maxSessionCount),
      maxRwSessions: count(t.maxRwSessionCount),
      freePublicMemory: count(t.freePublicMemory),
      freePrivateMemory: count(t.freePrivateMemory),
    },
    mechanisms: [...c.mechanisms.entries()].map(([type, m]) => ({ type, ...m })),
    poolSize: c.pool.max,
    vendor: c.profile.id,
    vendorSelectedBy:
      c.init.provider !== undefined ? 'config' : c.profile.id === 'generic' ? 'none' : 'detected',
    ...probeResult(c, req?.cachedProbe),
  };
}

/**
 * The probe result and how it came about: the parent's cached result when it was taken under this
 * host's fingerprint (computed now, before probing), else a fresh probe.
 */
function probeResult(
  c: TokenConnection,
  cached: CapabilitiesHeader['cachedProbe'],
): { probe: ProbeResult; probeOrigin: ProbeOrigin } {
  if (!probe) {
    const fingerprint = probeFingerprint(c);
    if (cached !== undefined && cached.fingerprint === fingerprint) {
      probe = {
        result: cached.result as ProbeResult,
        origin: { source: 'cached', probedAt: cached.probedAt, fingerprint },
      };
    } else {
      const probedAt = new Date().toISOString();
      probe = { result: probeOnce(c), origin: { source: 'probed', probedAt, fingerprint } };
    }
  }
  return { probe: probe.result, probeOrigin: probe.origin };
}

/**
 * Runs the capability probe. On a token without session objects the probe's temporary token
 * objects were created and destroyed through this module instance; tpm2-pkcs11 1.9 then mixes up
 * object handles, so the module is re-initialised to start from the token's real state.
 */
function probeOnce(c: TokenConnection): ProbeResult {
  const result = probeCapabilities(c, c.profile);
  if (!c.profile.sessionObjects) {
    ops = new KeyOps(c);
    c.reload();
    const left = destroyProbeObjects(c, result.label);
    result.notes = result.notes.filter((n) => !n.startsWith('could not destroy'));
    if (left > 0) result.notes.push(`${left} probe objects labelled ${result.label} could not be destroyed`);
  }
  return result;
}

function shutdown(code: number): void {
  conn?.close();
  process.exit(code);
}
