import { HsmError } from '../../../errors/index.js';
import { CKA, CKG, CKK, CKM, CKO } from '../constants.js';
import type { PublicKeyHeader, UnwrapPrivateHeader, WrappedPrivate } from '../ipc/protocol.js';
import { type Attribute, type Handle, rsaOaepParamsType } from '../p11.js';
import type { KeyOps } from './key-ops.js';
import type { TokenConnection } from './token-connection.js';

/** RFC 5649 AES key wrap with padding; 0x210A on SoftHSM (NSS's RFC 5649 is 0x210B: vendor profiles override). */
const DEFAULT_WRAP_MECHANISM = CKM.AES_KEY_WRAP_PAD;
/** CKZ_DATA_SPECIFIED: the OAEP label source. */
const CKZ_DATA_SPECIFIED = 1;

/**
 * Key replication between members, always HSM to HSM: a private key leaves its token only wrapped
 * under the cluster replication key (AES-256, CKA_TRUSTED, identical on every member), and only
 * when it was generated with CKA_WRAP_WITH_TRUSTED. The replication key itself travels once, at
 * `cluster init-replication`, wrapped by RSA-OAEP under a transport key generated inside the
 * target HSM; those steps need SO sessions (only an SO may set CKA_TRUSTED).
 */
export class ReplicationOps {
  private transportPrivate: Handle | undefined;

  constructor(
    private readonly conn: TokenConnection,
    private readonly keys: KeyOps,
  ) {}

  /** Wraps the private key with this id under the replication key; returns it with its public half. */
  wrapPrivate(h: { id: string; wrappingLabel: string; mechanism?: number }): WrappedPrivate {
    return this.conn.run('wrap key for replication', true, (s) => {
      const wrapping = this.one(
        s,
        [
          { type: CKA.CLASS, value: CKO.SECRET_KEY },
          { type: CKA.LABEL, value: h.wrappingLabel },
        ],
        'replication key',
      );
      const priv = this.one(
        s,
        [
          { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
          { type: CKA.ID, value: Buffer.from(h.id, 'hex') },
        ],
        `private key ${h.id}`,
      );
      const blob = this.conn.p11.C_WrapKey(
        s,
        { mechanism: h.mechanism ?? DEFAULT_WRAP_MECHANISM },
        wrapping,
        priv,
        Buffer.alloc(16384),
      );
      const label = this.keys.readText(s, priv, CKA.LABEL);
      const publicKey = this.keys.publicKeyOfHandle(s, h.id, this.keys.publicHandleOrPrivate(s, h.id, priv));
      return {
        id: h.id,
        label,
        blob: Buffer.from(blob).toString('hex'),
        publicKey,
        sign: this.keys.readBool(s, priv, CKA.SIGN),
      };
    });
  }

  /** Unwraps a replicated private key and recreates its public half. A key already present (same id) is left as is. */
  unwrapPrivate(h: UnwrapPrivateHeader): { id: string; created: boolean } {
    return this.conn.run('unwrap replicated key', false, (s) => {
      const existing = this.keys.findHandles(s, [
        { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
        { type: CKA.ID, value: Buffer.from(h.id, 'hex') },
      ]);
      if (existing.length > 0) return { id: h.id, created: false };
      if (this.keys.findHandles(s, [{ type: CKA.LABEL, value: h.label }]).length > 0) {
        throw new HsmError('HSM_ERR_KEY_EXISTS', `another key is labelled "${h.label}" on this member`, {
          member: this.conn.member,
        });
      }
      const wrapping = this.one(
        s,
        [
          { type: CKA.CLASS, value: CKO.SECRET_KEY },
          { type: CKA.LABEL, value: h.wrappingLabel },
        ],
        'replication key',
      );
      const id = Buffer.from(h.id, 'hex');
      const keyType = h.publicKey.keyType;
      const priv = this.conn.p11.C_UnwrapKey(
        s,
        { mechanism: h.mechanism ?? DEFAULT_WRAP_MECHANISM },
        wrapping,
        Buffer.from(h.blob, 'hex'),
        [
          { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
          { type: CKA.KEY_TYPE, value: keyType },
          { type: CKA.TOKEN, value: true },
          { type: CKA.PRIVATE, value: true },
          { type: CKA.SENSITIVE, value: true },
          // The copy stays replicable (a member that rejoins catches up from any survivor), and
          // only under a trusted wrapping key.
          { type: CKA.EXTRACTABLE, value: true },
          { type: CKA.WRAP_WITH_TRUSTED, value: true },
          { type: CKA.SIGN, value: h.sign },
          { type: CKA.DECRYPT, value: false },
          { type: CKA.UNWRAP, value: false },
          { type: CKA.LABEL, value: h.label },
          { type: CKA.ID, value: id },
        ],
      );
      try {
        this.conn.p11.C_CreateObject(s, publicTemplate(h.publicKey, h.label, id));
      } catch (err) {
        this.conn.p11.C_DestroyObject(s, priv);
        throw err;
      }
      return { id: h.id, created: true };
    });
  }

  /** SO: generates the AES-256 replication key, trusted; extractable only while it is being distributed. */
  createReplicationKey(h: { label: string; extractable: boolean }): { label: string } {
    return this.conn.run('create replication key', false, (s) => {
      if (
        this.keys.findHandles(s, [
          { type: CKA.CLASS, value: CKO.SECRET_KEY },
          { type: CKA.LABEL, value: h.label },
        ]).length > 0
      ) {
        throw new HsmError(
          'HSM_ERR_KEY_EXISTS',
          `replication key "${h.label}" already exists on this member`,
          { member: this.conn.member },
        );
      }
      this.conn.p11.C_GenerateKey(s, { mechanism: CKM.AES_KEY_GEN }, [
        ...replicationKeyTemplate(h.label, h.extractable),
        { type: CKA.VALUE_LEN, value: 32 },
      ]);
      return { label: h.label };
    });
  }

  /** SO: a fresh RSA-3072 transport key pair as session objects; returns the public half. */
  transportKey(): PublicKeyHeader {
    return this.conn.run('create transport key', false, (s) => {
      const pair = this.conn.p11.C_GenerateKeyPair(
        s,
        { mechanism: CKM.RSA_PKCS_KEY_PAIR_GEN },
        [
          { type: CKA.TOKEN, value: false },
          { type: CKA.MODULUS_BITS, value: 3072 },
          { type: CKA.PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
          { type: CKA.WRAP, value: true },
        ],
        [
          { type: CKA.TOKEN, value: false },
          // An SO may only create public objects; the key is a sensitive, non-extractable session
          // object that disappears with the ceremony's host.
          { type: CKA.PRIVATE, value: false },
          { type: CKA.SENSITIVE, value: true },
          { type: CKA.EXTRACTABLE, value: false },
          { type: CKA.UNWRAP, value: true },
        ],
      );
      this.transportPrivate = pair.privateKey;
      return this.keys.publicKeyOfHandle(s, '', pair.publicKey);
    });
  }

  /** SO: wraps the replication key under a target member's transport public key (RSA-OAEP, SHA-1 MGF, which every module here offers). */
  wrapReplicationKeyFor(h: { label: string; transport: PublicKeyHeader }): { blob: string } {
    return this.conn.run('wrap replication key', false, (s) => {
      const key = this.one(
        s,
        [
          { type: CKA.CLASS, value: CKO.SECRET_KEY },
          { type: CKA.LABEL, value: h.label },
        ],
        'replication key',
      );
      const pub = this.conn.p11.C_CreateObject(s, [
        { type: CKA.CLASS, value: CKO.PUBLIC_KEY },
        { type: CKA.KEY_TYPE, value: CKK.RSA },
        { type: CKA.TOKEN, value: false },
        { type: CKA.WRAP, value: true },
        { type: CKA.MODULUS, value: Buffer.from(h.transport.modulus ?? '', 'hex') },
        { type: CKA.PUBLIC_EXPONENT, value: Buffer.from(h.transport.publicExponent ?? '', 'hex') },
      ]);
      try {
        const blob = this.conn.p11.C_WrapKey(s, oaep(), pub, key, Buffer.alloc(1024));
        return { blob: Buffer.from(blob).toString('hex') };
      } finally {
        this.conn.p11.C_DestroyObject(s, pub);
      }
    });
  }

  /** SO: unwraps the replication key with this member's transport key, as a trusted, non-extractable token key. */
  unwrapReplicationKey(h: { label: string; blob: string }): { label: string } {
    if (!this.transportPrivate)
      throw new HsmError('HSM_ERR_INVALID_INPUT', 'no transport key on this member; create one first');
    const transport = this.transportPrivate;
    return this.conn.run('unwrap replication key', false, (s) => {
      this.conn.p11.C_UnwrapKey(
        s,
        oaep(),
        transport,
        Buffer.from(h.blob, 'hex'),
        replicationKeyTemplate(h.label, false),
      );
      return { label: h.label };
    });
  }

  /** SO: makes the replication key non-extractable for good (CKA_EXTRACTABLE can only go from true to false). */
  sealReplicationKey(h: { label: string }): { label: string } {
    return this.conn.run('seal replication key', false, (s) => {
      const key = this.one(
        s,
        [
          { type: CKA.CLASS, value: CKO.SECRET_KEY },
          { type: CKA.LABEL, value: h.label },
        ],
        'replication key',
      );
      this.conn.p11.C_SetAttributeValue(s, key, [{ type: CKA.EXTRACTABLE, value: false }]);
      return { label: h.label };
    });
  }

  /**
   * SO (backup KEK, M-of-N): wraps the secret key labelled `label` under an AES-256 key made from
   * `secret` (the custodians' split secret). The secret becomes a trusted, sensitive,
   * non-extractable session object for the one C_WrapKey call, is destroyed right after, and the
   * caller's buffer is zeroed here.
   */
  wrapSecretKeyUnderValue(h: { label: string; mechanism?: number }, secret: Buffer): { blob: string } {
    try {
      return this.conn.run('wrap backup key under split secret', false, (s) => {
        const key = this.one(
          s,
          [
            { type: CKA.CLASS, value: CKO.SECRET_KEY },
            { type: CKA.LABEL, value: h.label },
          ],
          'backup key',
        );
        const kwk = this.conn.p11.C_CreateObject(s, valueKeyTemplate(secret));
        try {
          const blob = this.conn.p11.C_WrapKey(
            s,
            { mechanism: h.mechanism ?? DEFAULT_WRAP_MECHANISM },
            kwk,
            key,
            Buffer.alloc(1024),
          );
          return { blob: Buffer.from(blob).toString('hex') };
        } finally {
          this.conn.p11.C_DestroyObject(s, kwk);
        }
      });
    } finally {
      secret.fill(0);
    }
  }

  /**
   * SO (backup KEK, M-of-N restore): imports `secret` as a session AES key (sensitive,
   * non-extractable: the documented custodian-share exception), unwraps `blob` with it as the
   * trusted, non-extractable token key `label`, then destroys the session key and zeroes `secret`.
   */
  unwrapSecretKeyUnderValue(
    h: { label: string; blob: string; mechanism?: number },
    secret: Buffer,
  ): { label: string } {
    try {
      return this.conn.run('unwrap backup key under split secret', false, (s) => {
        if (
          this.keys.findHandles(s, [
            { type: CKA.CLASS, value: CKO.SECRET_KEY },
            { type: CKA.LABEL, value: h.label },
          ]).length > 0
        ) {
          throw new HsmError('HSM_ERR_KEY_EXISTS', `key "${h.label}" already exists on this member`, {
            member: this.conn.member,
          });
        }
        const kwk = this.conn.p11.C_CreateObject(s, valueKeyTemplate(secret));
        try {
          this.conn.p11.C_UnwrapKey(
            s,
            { mechanism: h.mechanism ?? DEFAULT_WRAP_MECHANISM },
            kwk,
            Buffer.from(h.blob, 'hex'),
            replicationKeyTemplate(h.label, false),
          );
        } finally {
          this.conn.p11.C_DestroyObject(s, kwk);
        }
        return { label: h.label };
      });
    } finally {
      secret.fill(0);
    }
  }

  /** Makes the private key with this id non-extractable for good (CKA_EXTRACTABLE true → false only). */
  sealPrivate(h: { id: string }): { id: string } {
    return this.conn.run('seal private key', false, (s) => {
      const priv = this.one(
        s,
        [
          { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
          { type: CKA.ID, value: Buffer.from(h.id, 'hex') },
        ],
        `private key ${h.id}`,
      );
      this.conn.p11.C_SetAttributeValue(s, priv, [{ type: CKA.EXTRACTABLE, value: false }]);
      return { id: h.id };
    });
  }

  private one(s: Handle, template: Attribute[], what: string): Handle {
    const found = this.keys.findHandles(s, template);
    if (found.length === 0)
      throw new HsmError('HSM_ERR_KEY_NOT_FOUND', `no ${what} on this member`, { member: this.conn.member });
    if (found.length > 1)
      throw new HsmError('HSM_ERR_KEY_AMBIGUOUS', `${found.length} objects match the ${what}`, {
        member: this.conn.member,
      });
    return found[0]!;
  }
}

function oaep() {
  return {
    mechanism: CKM.RSA_PKCS_OAEP,
    parameter: {
      type: rsaOaepParamsType(),
      hashAlg: CKM.SHA_1,
      mgf: CKG.MGF1_SHA1,
      source: CKZ_DATA_SPECIFIED,
    },
  };
}

/** The replication key: a public token object (an SO can only create public objects), trusted, sensitive. */
function replicationKeyTemplate(label: string, extractable: boolean): Attribute[] {
  return [
    { type: CKA.CLASS, value: CKO.SECRET_KEY },
    { type: CKA.KEY_TYPE, value: CKK.AES },
    { type: CKA.TOKEN, value: true },
    { type: CKA.PRIVATE, value: false },
    { type: CKA.SENSITIVE, value: true },
    { type: CKA.EXTRACTABLE, value: extractable },
    { type: CKA.TRUSTED, value: true },
    { type: CKA.WRAP, value: true },
    { type: CKA.UNWRAP, value: true },
    { type: CKA.ENCRYPT, value: false },
    { type: CKA.DECRYPT, value: false },
    { type: CKA.LABEL, value: label },
  ];
}

/** A session AES key from a value (SO: public object), trusted, usable only to wrap/unwrap. */
function valueKeyTemplate(value: Buffer): Attribute[] {
  return [
    { type: CKA.CLASS, value: CKO.SECRET_KEY },
    { type: CKA.KEY_TYPE, value: CKK.AES },
    { type: CKA.TOKEN, value: false },
    { type: CKA.PRIVATE, value: false },
    { type: CKA.SENSITIVE, value: true },
    { type: CKA.EXTRACTABLE, value: false },
    { type: CKA.TRUSTED, value: true },
    { type: CKA.WRAP, value: true },
    { type: CKA.UNWRAP, value: true },
    { type: CKA.ENCRYPT, value: false },
    { type: CKA.DECRYPT, value: false },
    { type: CKA.VALUE, value },
  ];
}

/** The public half of a replicated key, rebuilt from the source's attributes. */
function publicTemplate(pub: PublicKeyHeader, label: string, id: Buffer): Attribute[] {
  const t: Attribute[] = [
    { type: CKA.CLASS, value: CKO.PUBLIC_KEY },
    { type: CKA.KEY_TYPE, value: pub.keyType },
    { type: CKA.TOKEN, value: true },
    { type: CKA.PRIVATE, value: false },
    { type: CKA.VERIFY, value: true },
    { type: CKA.LABEL, value: label },
    { type: CKA.ID, value: id },
  ];
  if (pub.keyType === CKK.RSA) {
    t.push(
      { type: CKA.MODULUS, value: Buffer.from(pub.modulus ?? '', 'hex') },
      { type: CKA.PUBLIC_EXPONENT, value: Buffer.from(pub.publicExponent ?? '', 'hex') },
    );
  } else if (pub.keyType === CKK.EC || pub.keyType === CKK.EC_EDWARDS) {
    t.push(
      { type: CKA.EC_PARAMS, value: Buffer.from(pub.ecParams ?? '', 'hex') },
      { type: CKA.EC_POINT, value: Buffer.from(pub.ecPoint ?? '', 'hex') },
    );
  } else {
    throw new HsmError(
      'HSM_ERR_MECHANISM_UNSUPPORTED',
      `replication of key type 0x${pub.keyType.toString(16)} is not supported`,
    );
  }
  return t;
}
