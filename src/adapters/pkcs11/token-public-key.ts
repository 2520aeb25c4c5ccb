import { curveFromEcParams } from '../../crypto/curves.js';
import { unwrapEcPoint } from '../../crypto/ec-point.js';
import {
  ecSpki,
  type MlDsaSet,
  type MlKemSet,
  mlDsaSpki,
  mlKemSpki,
  rsaSpki,
} from '../../crypto/public-key.js';
import { HsmError } from '../../errors/index.js';
import type { KeyFamily } from '../../kms/key-spec.js';
import { CKK } from './constants.js';
import type { PublicKeyHeader } from './ipc/protocol.js';

/** A public key as read from a token, in standard form. */
export interface TokenPublicKey {
  /** SubjectPublicKeyInfo, DER. */
  spki: Uint8Array;
  family: KeyFamily;
  /** hsmkit key type name, e.g. `rsa-4096`, `ec-p384`, `ed25519`; `rsa-1024` for sizes hsmkit does not generate. */
  type: string;
}

const CURVE_TYPES = {
  'P-256': 'ec-p256',
  'P-384': 'ec-p384',
  'P-521': 'ec-p521',
  Ed25519: 'ed25519',
  Ed448: 'ed448',
} as const;
const ML_DSA_SETS: Record<number, MlDsaSet> = { 1: 44, 2: 65, 3: 87 };
const ML_KEM_SETS: Record<number, MlKemSet> = { 1: 512, 2: 768, 3: 1024 };

/** Builds the SPKI and type of a key from the attributes a member host read. */
export function tokenPublicKey(h: PublicKeyHeader): TokenPublicKey {
  const hex = (s: string | undefined, what: string): Buffer => {
    if (s === undefined)
      throw new HsmError('HSM_ERR_DATA_INVALID', `the token returned no ${what} for key ${h.id}`);
    return Buffer.from(s, 'hex');
  };
  switch (h.keyType) {
    case CKK.RSA: {
      const n = hex(h.modulus, 'CKA_MODULUS');
      let first = 0;
      while (first < n.length - 1 && n[first] === 0) first++;
      const bits = (n.length - first) * 8;
      return {
        spki: rsaSpki(n, hex(h.publicExponent, 'CKA_PUBLIC_EXPONENT')),
        family: 'rsa',
        type: `rsa-${bits}`,
      };
    }
    case CKK.EC:
    case CKK.EC_EDWARDS: {
      const curve = curveFromEcParams(hex(h.ecParams, 'CKA_EC_PARAMS'));
      const point = unwrapEcPoint(hex(h.ecPoint, 'CKA_EC_POINT'), curve);
      return {
        spki: ecSpki(curve, point),
        family: curve.startsWith('Ed') ? 'eddsa' : 'ec',
        type: CURVE_TYPES[curve],
      };
    }
    case CKK.ML_DSA: {
      const set = ML_DSA_SETS[h.parameterSet ?? 0];
      if (!set) throw new HsmError('HSM_ERR_DATA_INVALID', `unknown ML-DSA parameter set ${h.parameterSet}`);
      return { spki: mlDsaSpki(set, hex(h.value, 'CKA_VALUE')), family: 'ml-dsa', type: `ml-dsa-${set}` };
    }
    case CKK.ML_KEM: {
      const set = ML_KEM_SETS[h.parameterSet ?? 0];
      if (!set) throw new HsmError('HSM_ERR_DATA_INVALID', `unknown ML-KEM parameter set ${h.parameterSet}`);
      return { spki: mlKemSpki(set, hex(h.value, 'CKA_VALUE')), family: 'ml-kem', type: `ml-kem-${set}` };
    }
    default:
      throw new HsmError(
        'HSM_ERR_MECHANISM_UNSUPPORTED',
        `key ${h.id} has key type 0x${h.keyType.toString(16)}, which hsmkit does not use`,
      );
  }
}
