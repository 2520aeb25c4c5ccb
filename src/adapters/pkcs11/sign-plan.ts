import { digestInfo, HASH_SIZES, hashData } from '../../crypto/digest-info.js';
import { HsmError } from '../../errors/index.js';
import type { KeyFamily } from '../../kms/key-spec.js';
import type { SignAlgorithm, SignHash } from '../../kms/sign-algorithm.js';
import { CKG, CKM } from './constants.js';
import type { SignHeader } from './ipc/protocol.js';

/** Largest message sent whole to the token; bigger ones are hashed here first (RSA/ECDSA) or refused (EdDSA). */
export const MAX_WHOLE_MESSAGE = 64 * 1024;
/** Largest message hsmkit accepts for EdDSA/ML-DSA, which must see the whole message. */
export const MAX_PURE_MESSAGE = 16 * 1024 * 1024;

/** Token-specific limits on signing, from the vendor profile (see vendors/token-capabilities.ts). */
export interface SignConstraints {
  /** The key's type, e.g. `ec-p521`. */
  keyType?: string;
  /** Key types signing is refused for on this token, with the reason (e.g. tpm2-pkcs11 P-521). */
  refusedKeyTypes?: ReadonlyMap<string, string>;
}

/** What to send to the token for one signature. */
export interface SignPlan {
  mechanism: number;
  pss?: SignHeader['pss'];
  /** The bytes C_Sign receives. */
  input: Uint8Array;
  /** The token returns r‖s; hsmkit re-encodes it. */
  ecdsa: boolean;
}

const COMBINED_PKCS1: Record<SignHash, number> = {
  sha256: CKM.SHA256_RSA_PKCS,
  sha384: CKM.SHA384_RSA_PKCS,
  sha512: CKM.SHA512_RSA_PKCS,
};
const COMBINED_PSS: Record<SignHash, number> = {
  sha256: CKM.SHA256_RSA_PKCS_PSS,
  sha384: CKM.SHA384_RSA_PKCS_PSS,
  sha512: CKM.SHA512_RSA_PKCS_PSS,
};
const HASH_MECH: Record<SignHash, number> = { sha256: CKM.SHA256, sha384: CKM.SHA384, sha512: CKM.SHA512 };
const MGF: Record<SignHash, number> = {
  sha256: CKG.MGF1_SHA256,
  sha384: CKG.MGF1_SHA384,
  sha512: CKG.MGF1_SHA512,
};

/**
 * Chooses the mechanism and input for a signature. A combined mechanism (CKM_SHA256_RSA_PKCS)
 * is used when the token offers it and the message is small; otherwise hsmkit hashes in
 * software and the token signs the DigestInfo (CKM_RSA_PKCS) or the prehash (CKM_RSA_PKCS_PSS,
 * CKM_ECDSA). Hashing is not a key operation, so this keeps every private-key use in the HSM.
 * ECDSA always goes through CKM_ECDSA on a prehash: SoftHSM lacks CKM_ECDSA_SHA*, p11-kit
 * cannot forward them, and the result is identical. `mechanisms` is what the token may be asked
 * for: its list less what the vendor profile avoids and what failed the connect-time probe, so a
 * module with a broken combined mechanism (opencryptoki's CKM_SHA256_RSA_PKCS) falls back here.
 */
export function planSign(
  family: KeyFamily,
  alg: SignAlgorithm,
  mechanisms: ReadonlySet<number>,
  input: { data?: Uint8Array; digest?: Uint8Array },
  constraints: SignConstraints = {},
): SignPlan {
  const { data, digest } = input;
  const refused = constraints.keyType && constraints.refusedKeyTypes?.get(constraints.keyType);
  if (refused) {
    throw new HsmError(
      'HSM_ERR_MECHANISM_UNSUPPORTED',
      `signing with ${constraints.keyType} keys is refused: ${refused}`,
    );
  }
  if ((data === undefined) === (digest === undefined)) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'give exactly one of data and digest');
  }
  if (data !== undefined && data.length === 0)
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'the message to sign is empty');
  const require = (mech: number, what: string): number => {
    if (!mechanisms.has(mech)) {
      throw new HsmError('HSM_ERR_MECHANISM_UNSUPPORTED', `the token does not offer ${what}`);
    }
    return mech;
  };

  if (alg.scheme === 'eddsa' || alg.scheme === 'ml-dsa') {
    if (family !== alg.scheme)
      throw new HsmError('HSM_ERR_INVALID_INPUT', `${alg.scheme} does not fit a ${family} key`);
    if (data === undefined)
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        `${alg.scheme} signs the message itself; a digest cannot be signed`,
      );
    if (data.length > MAX_PURE_MESSAGE) {
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        `message of ${data.length} bytes exceeds ${MAX_PURE_MESSAGE} for ${alg.scheme}`,
      );
    }
    const mech = alg.scheme === 'eddsa' ? require(CKM.EDDSA, 'CKM_EDDSA') : require(CKM.ML_DSA, 'CKM_ML_DSA');
    return { mechanism: mech, input: data, ecdsa: false };
  }

  const hash = alg.hash ?? 'sha256';
  const expectFamily: KeyFamily = alg.scheme === 'ecdsa' ? 'ec' : 'rsa';
  if (family !== expectFamily)
    throw new HsmError('HSM_ERR_INVALID_INPUT', `${alg.scheme} does not fit a ${family} key`);
  if (digest !== undefined && digest.length !== HASH_SIZES[hash]) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `a ${hash} digest is ${HASH_SIZES[hash]} bytes, got ${digest.length}`,
    );
  }
  const small = data !== undefined && data.length <= MAX_WHOLE_MESSAGE;
  const prehash = (): Uint8Array => digest ?? hashData(hash, data!);

  if (alg.scheme === 'ecdsa')
    return { mechanism: require(CKM.ECDSA, 'CKM_ECDSA'), input: prehash(), ecdsa: true };

  if (alg.scheme === 'rsa-pkcs1') {
    if (small && mechanisms.has(COMBINED_PKCS1[hash]))
      return { mechanism: COMBINED_PKCS1[hash], input: data!, ecdsa: false };
    return {
      mechanism: require(CKM.RSA_PKCS, 'CKM_RSA_PKCS'),
      input: digestInfo(hash, prehash()),
      ecdsa: false,
    };
  }

  // RSA-PSS: salt length = hash length, MGF1 with the same hash (the usual profile, RFC 8017 / CAB Forum).
  const pss = { hashAlg: HASH_MECH[hash], mgf: MGF[hash], saltLen: HASH_SIZES[hash] };
  if (small && mechanisms.has(COMBINED_PSS[hash]))
    return { mechanism: COMBINED_PSS[hash], pss, input: data!, ecdsa: false };
  return { mechanism: require(CKM.RSA_PKCS_PSS, 'CKM_RSA_PKCS_PSS'), pss, input: prehash(), ecdsa: false };
}
