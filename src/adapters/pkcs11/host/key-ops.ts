import { CURVES, curveFromEcParams } from '../../../crypto/curves.js';
import { CKR_VALUES, HsmError } from '../../../errors/index.js';
import { CKA, CKK, CKO, mechanismName } from '../constants.js';
import type {
  AttributesHeader,
  FindHeader,
  FoundKey,
  GenerateHeader,
  PublicKeyHeader,
  SignHeader,
} from '../ipc/protocol.js';
import { type Attribute, ckrOf, type Handle, type Mechanism, padded, rsaPssParamsType } from '../p11.js';
import { keyPairTemplate } from './templates.js';
import type { TokenConnection } from './token-connection.js';
import { withTokenLock } from './token-lock.js';

/** A private key handle with what signing needs to know about it. */
interface CachedKey {
  handle: Handle;
  keyType: number;
  /** Signature size, derived from the key's own attributes (modulus, curve, parameter set). */
  sigLen: number;
  generation: number;
}

const ML_DSA_SIG: Record<number, number> = { 1: 2420, 2: 3309, 3: 4627 };
const SECURITY_ATTRS: Array<[string, number]> = [
  ['token', CKA.TOKEN],
  ['private', CKA.PRIVATE],
  ['sensitive', CKA.SENSITIVE],
  ['extractable', CKA.EXTRACTABLE],
  ['alwaysSensitive', CKA.ALWAYS_SENSITIVE],
  ['neverExtractable', CKA.NEVER_EXTRACTABLE],
  ['local', CKA.LOCAL],
  ['sign', CKA.SIGN],
  ['decrypt', CKA.DECRYPT],
  ['unwrap', CKA.UNWRAP],
  ['derive', CKA.DERIVE],
];

/** Key operations a member host performs on its token. */
export class KeyOps {
  private readonly keys = new Map<string, CachedKey>();

  constructor(private readonly conn: TokenConnection) {}

  /** Signs `data` with the private key whose CKA_ID is `h.k`. Safe to retry: signing has no side effects. */
  sign(h: SignHeader, data: Buffer): Buffer {
    return this.conn.run('sign', true, (s) => this.signOn(s, h, data));
  }

  /** Async variant over the session pool, for network HSMs with latency to hide. */
  signAsync(h: SignHeader, data: Buffer): Promise<Buffer> {
    return this.conn.runAsync('sign', true, async (s) => {
      const key = this.privateKey(s, h.k);
      this.conn.p11.C_SignInit(s, this.mechanism(h), key.handle);
      // pkcs11js issue 121: `data` and the output buffer stay referenced by this closure until the call ends.
      const out = Buffer.alloc(key.sigLen);
      const sig = await this.conn.p11.C_SignAsync(s, data, out);
      return Buffer.from(sig);
    });
  }

  private signOn(s: Handle, h: SignHeader, data: Buffer): Buffer {
    let key = this.privateKey(s, h.k);
    try {
      this.conn.p11.C_SignInit(s, this.mechanism(h), key.handle);
    } catch (err) {
      // A cached handle can go stale (key deleted and re-created, token re-synced): find it again once.
      if (!isStaleHandle(err)) throw err;
      this.keys.delete(h.k);
      key = this.privateKey(s, h.k);
      this.conn.p11.C_SignInit(s, this.mechanism(h), key.handle);
    }
    let size = key.sigLen;
    for (;;) {
      try {
        // A fresh output buffer per call: pkcs11js returns a view of it (DESIGN.md pitfall).
        return this.conn.p11.C_Sign(s, data, Buffer.alloc(size));
      } catch (err) {
        // CKR_BUFFER_TOO_SMALL leaves the operation active, so C_Sign may simply be called again.
        if (ckrOf(err) !== CKR_VALUES.BUFFER_TOO_SMALL || size >= 65536) throw err;
        size *= 2;
      }
    }
  }

  private mechanism(h: SignHeader): Mechanism {
    if (!h.pss) return { mechanism: h.m };
    return { mechanism: h.m, parameter: { type: rsaPssParamsType(), ...h.pss } };
  }

  /** Finds the one private key with this CKA_ID; none or several is an error. */
  private privateKey(s: Handle, idHex: string): CachedKey {
    const cached = this.keys.get(idHex);
    if (cached && cached.generation === this.conn.generation) return cached;
    const handles = this.findHandles(s, [
      { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
      { type: CKA.ID, value: Buffer.from(idHex, 'hex') },
    ]);
    if (handles.length === 0) {
      throw new HsmError('HSM_ERR_KEY_NOT_FOUND', `no private key with id ${idHex}`, {
        member: this.conn.member,
      });
    }
    if (handles.length > 1) {
      throw new HsmError('HSM_ERR_KEY_AMBIGUOUS', `${handles.length} private keys share id ${idHex}`, {
        member: this.conn.member,
      });
    }
    const handle = handles[0]!;
    // Signing only ever uses a handle the token itself calls CKO_PRIVATE_KEY: a module that ignored
    // the class in the search template must not hand us a public key (tpm2-pkcs11 enters TPM
    // failure mode when asked to sign with one).
    if (readUlong(this.attr(s, handle, CKA.CLASS)) !== CKO.PRIVATE_KEY) {
      throw new HsmError('HSM_ERR_KEY_NOT_FOUND', `object ${idHex} found as a private key is not one`, {
        member: this.conn.member,
      });
    }
    const keyType = readUlong(this.attr(s, handle, CKA.KEY_TYPE));
    const key: CachedKey = {
      handle,
      keyType,
      sigLen: this.signatureLength(s, handle, keyType),
      generation: this.conn.generation,
    };
    this.keys.set(idHex, key);
    return key;
  }

  private signatureLength(s: Handle, handle: Handle, keyType: number): number {
    switch (keyType) {
      case CKK.RSA:
        return stripLeadingZeros(this.attr(s, handle, CKA.MODULUS)).length;
      case CKK.EC:
      case CKK.EC_EDWARDS: {
        const curve = curveFromEcParams(this.attr(s, handle, CKA.EC_PARAMS));
        if (curve === 'Ed25519') return 64;
        if (curve === 'Ed448') return 114;
        return 2 * CURVES[curve].fieldBytes;
      }
      case CKK.ML_DSA:
        return ML_DSA_SIG[readUlong(this.attr(s, handle, CKA.PARAMETER_SET))] ?? 4627;
      default:
        throw new HsmError(
          'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED',
          `key type 0x${keyType.toString(16)} cannot sign`,
          {
            member: this.conn.member,
          },
        );
    }
  }

  /**
   * Generates a key pair: refuses a label that exists, checks the token offers the mechanism and
   * size, takes CKA_ID from the token's RNG, generates, and checks no concurrent generation took
   * the same label. Not retried after a device error: the key may exist.
   */
  generate(h: GenerateHeader): {
    id: string;
    publicKey: PublicKeyHeader;
    attributes: Record<string, boolean>;
  } {
    const template = keyPairTemplate(h, Buffer.alloc(0));
    this.checkMechanism(h, template.keygenMechanism, template.sizeToCheck);
    const t = this.conn.tokenInfo;
    const tokenKey = `${this.conn.init.module}|${padded(t.serialNumber)}|${padded(t.label)}`;
    return withTokenLock(tokenKey, 120_000, () => this.generateLocked(h));
  }

  private generateLocked(h: GenerateHeader): {
    id: string;
    publicKey: PublicKeyHeader;
    attributes: Record<string, boolean>;
  } {
    return this.conn.run('generate key pair', false, (s) => {
      if (this.findHandles(s, [{ type: CKA.LABEL, value: h.label }]).length > 0) {
        throw new HsmError('HSM_ERR_KEY_EXISTS', `a key labelled "${h.label}" already exists on the token`, {
          member: this.conn.member,
        });
      }
      const id = Buffer.from(this.conn.p11.C_GenerateRandom(s, Buffer.alloc(16)));
      const t = keyPairTemplate(h, id);
      const pair = this.conn.p11.C_GenerateKeyPair(s, t.mechanism, t.publicTemplate, t.privateTemplate);
      const sameLabel = this.findHandles(s, [
        { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
        { type: CKA.LABEL, value: h.label },
      ]);
      // Under the token lock only a process on another machine (or a tool outside hsmkit) can have
      // made the same label meanwhile; ours is then the newcomer and is undone.
      if (sameLabel.length > 1) {
        this.destroyQuietly(s, pair.privateKey);
        this.destroyQuietly(s, pair.publicKey);
        throw new HsmError('HSM_ERR_KEY_EXISTS', `a key labelled "${h.label}" was created concurrently`, {
          member: this.conn.member,
        });
      }
      const idHex = id.toString('hex');
      return {
        id: idHex,
        publicKey: this.publicKeyOfHandle(s, idHex, pair.publicKey),
        attributes: this.securityAttributes(s, pair.privateKey),
      };
    });
  }

  private checkMechanism(h: GenerateHeader, mech: number, size: number | undefined): void {
    const info = this.conn.mechanisms.get(mech);
    const token = padded(this.conn.tokenInfo.label);
    if (!info) {
      throw new HsmError(
        'HSM_ERR_MECHANISM_UNSUPPORTED',
        `token "${token}" does not offer ${mechanismName(mech)}, needed for ${h.type} keys; nothing was generated`,
        { member: this.conn.member, details: { keyType: h.type, mechanism: mechanismName(mech), token } },
      );
    }
    if (size !== undefined && info.maxKeySize > 0 && (size < info.minKeySize || size > info.maxKeySize)) {
      throw new HsmError(
        'HSM_ERR_KEY_SIZE',
        `token "${token}" supports ${mechanismName(mech)} from ${info.minKeySize} to ${info.maxKeySize} bits, not ${size}`,
        { member: this.conn.member },
      );
    }
  }

  /** Lists key pairs, optionally by label or id, grouped by CKA_ID. */
  findKeys(h: FindHeader): FoundKey[] {
    return this.conn.run('find keys', true, (s) => {
      const filter: Attribute[] = [];
      if (h.label !== undefined) filter.push({ type: CKA.LABEL, value: h.label });
      if (h.id !== undefined) filter.push({ type: CKA.ID, value: Buffer.from(h.id, 'hex') });
      const byId = new Map<string, FoundKey>();
      for (const cls of [CKO.PRIVATE_KEY, CKO.PUBLIC_KEY]) {
        for (const handle of this.findHandles(s, [{ type: CKA.CLASS, value: cls }, ...filter])) {
          const [idAttr, labelAttr, typeAttr] = this.conn.p11.C_GetAttributeValue(s, handle, [
            { type: CKA.ID },
            { type: CKA.LABEL },
            { type: CKA.KEY_TYPE },
          ]);
          const id = (idAttr!.value as Buffer).toString('hex');
          const entry = byId.get(id) ?? {
            id,
            label: (labelAttr!.value as Buffer).toString('utf8'),
            keyType: readUlong(typeAttr!.value as Buffer),
            hasPrivate: false,
            hasPublic: false,
            privateCount: 0,
          };
          if (cls === CKO.PRIVATE_KEY) {
            entry.hasPrivate = true;
            entry.privateCount++;
            entry.label = (labelAttr!.value as Buffer).toString('utf8');
            entry.attributes = this.securityAttributes(s, handle);
          } else entry.hasPublic = true;
          byId.set(id, entry);
        }
      }
      return [...byId.values()];
    });
  }

  /** Public-key attributes of the key with this id (from the public object, else the private one). */
  publicKey(idHex: string): PublicKeyHeader {
    return this.conn.run('read public key', true, (s) => {
      const pubs = this.findHandles(s, [
        { type: CKA.CLASS, value: CKO.PUBLIC_KEY },
        { type: CKA.ID, value: Buffer.from(idHex, 'hex') },
      ]);
      if (pubs.length > 1)
        throw new HsmError('HSM_ERR_KEY_AMBIGUOUS', `${pubs.length} public keys share id ${idHex}`);
      return this.publicKeyOfHandle(s, idHex, pubs[0] ?? this.privateKey(s, idHex).handle);
    });
  }

  /** Public-key attributes of a key object (public, or private where the token keeps them there). */
  publicKeyOfHandle(s: Handle, idHex: string, handle: Handle): PublicKeyHeader {
    const keyType = readUlong(this.attr(s, handle, CKA.KEY_TYPE));
    const out: PublicKeyHeader = { id: idHex, keyType };
    if (keyType === CKK.RSA) {
      out.modulus = this.attr(s, handle, CKA.MODULUS).toString('hex');
      out.publicExponent = this.attr(s, handle, CKA.PUBLIC_EXPONENT).toString('hex');
    } else if (keyType === CKK.EC || keyType === CKK.EC_EDWARDS) {
      out.ecParams = this.attr(s, handle, CKA.EC_PARAMS).toString('hex');
      out.ecPoint = this.attr(s, handle, CKA.EC_POINT).toString('hex');
    } else if (keyType === CKK.ML_DSA || keyType === CKK.ML_KEM) {
      out.parameterSet = readUlong(this.attr(s, handle, CKA.PARAMETER_SET));
      out.value = this.attr(s, handle, CKA.VALUE).toString('hex');
    }
    return out;
  }

  /** Destroys both halves of the key pair with this id. Returns how many objects went. */
  deleteKey(idHex: string): { deleted: number } {
    return this.conn.run('delete key', false, (s) => {
      let deleted = 0;
      for (const cls of [CKO.PRIVATE_KEY, CKO.PUBLIC_KEY]) {
        for (const handle of this.findHandles(s, [
          { type: CKA.CLASS, value: cls },
          { type: CKA.ID, value: Buffer.from(idHex, 'hex') },
        ])) {
          this.conn.p11.C_DestroyObject(s, handle);
          deleted++;
        }
      }
      this.keys.delete(idHex);
      if (deleted === 0)
        throw new HsmError('HSM_ERR_KEY_NOT_FOUND', `no key with id ${idHex}`, { member: this.conn.member });
      return { deleted };
    });
  }

  /** Reads attributes by number; a sensitive attribute is reported as the error code, not thrown. */
  attributes(h: AttributesHeader): Record<string, string | boolean | number | { error: string }> {
    return this.conn.run('read attributes', true, (s) => {
      const handles = this.findHandles(s, [
        { type: CKA.CLASS, value: h.cls },
        { type: CKA.ID, value: Buffer.from(h.id, 'hex') },
      ]);
      if (handles.length !== 1) {
        throw new HsmError(
          handles.length ? 'HSM_ERR_KEY_AMBIGUOUS' : 'HSM_ERR_KEY_NOT_FOUND',
          `object ${h.id}: ${handles.length} matches`,
        );
      }
      const out: Record<string, string | boolean | number | { error: string }> = {};
      for (const a of h.attrs) {
        try {
          out[a] = this.attr(s, handles[0]!, a).toString('hex');
        } catch (err) {
          const rv = ckrOf(err);
          if (rv === undefined) throw err;
          out[a] = { error: `0x${rv.toString(16)}` };
        }
      }
      return out;
    });
  }

  /** Random bytes from the token's RNG. */
  random(length: number): Buffer {
    return this.conn.run('generate random', true, (s) =>
      Buffer.from(this.conn.p11.C_GenerateRandom(s, Buffer.alloc(length))),
    );
  }

  private securityAttributes(s: Handle, handle: Handle): Record<string, boolean> {
    const out: Record<string, boolean> = {};
    for (const [name, type] of SECURITY_ATTRS) {
      try {
        out[name] = this.attr(s, handle, type)[0] === 1;
      } catch {
        // Attribute not defined for this key type (e.g. CKA_DERIVE on some RSA keys): report false.
        out[name] = false;
      }
    }
    return out;
  }

  /** The public object with this id, else the private key (some tokens keep no public object). */
  publicHandleOrPrivate(s: Handle, idHex: string, priv: Handle): Handle {
    const pubs = this.findHandles(s, [
      { type: CKA.CLASS, value: CKO.PUBLIC_KEY },
      { type: CKA.ID, value: Buffer.from(idHex, 'hex') },
    ]);
    return pubs.length === 1 ? pubs[0]! : priv;
  }

  /** A text attribute (CKA_LABEL) as UTF-8. */
  readText(s: Handle, handle: Handle, type: number): string {
    return this.attr(s, handle, type).toString('utf8');
  }

  /** A CK_BBOOL attribute. */
  readBool(s: Handle, handle: Handle, type: number): boolean {
    return this.attr(s, handle, type)[0] === 1;
  }

  private attr(s: Handle, handle: Handle, type: number): Buffer {
    const [a] = this.conn.p11.C_GetAttributeValue(s, handle, [{ type }]);
    return a!.value as Buffer;
  }

  /** Every object matching the template (C_FindObjects in batches of 64). */
  findHandles(s: Handle, template: Attribute[]): Handle[] {
    const p11 = this.conn.p11;
    p11.C_FindObjectsInit(s, template);
    try {
      const all: Handle[] = [];
      for (;;) {
        const batch = p11.C_FindObjects(s, 64);
        if (batch.length === 0) return all;
        all.push(...batch);
      }
    } finally {
      p11.C_FindObjectsFinal(s);
    }
  }

  private destroyQuietly(s: Handle, handle: Handle): void {
    try {
      this.conn.p11.C_DestroyObject(s, handle);
    } catch {
      // Best effort while undoing a generation; the error that made us undo is what the caller sees.
    }
  }
}

function isStaleHandle(err: unknown): boolean {
  const rv = ckrOf(err);
  return rv === CKR_VALUES.OBJECT_HANDLE_INVALID || rv === CKR_VALUES.KEY_HANDLE_INVALID;
}

/** CK_ULONG as pkcs11js returns it: little-endian, 4 or 8 bytes. */
function readUlong(buf: Buffer): number {
  return buf.length >= 8 ? Number(buf.readBigUInt64LE(0)) : buf.readUInt32LE(0);
}

function stripLeadingZeros(buf: Buffer): Buffer {
  let i = 0;
  while (i < buf.length - 1 && buf[i] === 0) i++;
  return buf.subarray(i);
}
