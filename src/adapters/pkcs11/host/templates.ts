import { CURVES } from '../../../crypto/curves.js';
import { HsmError } from '../../../errors/index.js';
import { keySpec } from '../../../kms/key-spec.js';
import { CKA, CKK, CKM, CKO, CKP } from '../constants.js';
import type { GenerateHeader } from '../ipc/protocol.js';
import type { Attribute, Mechanism } from '../p11.js';

/** Everything C_GenerateKeyPair needs. */
export interface KeyPairTemplate {
  mechanism: Mechanism;
  publicTemplate: Attribute[];
  privateTemplate: Attribute[];
  /** The key-generation mechanism, for the capability check. */
  keygenMechanism: number;
  /** The key size the token's mechanism info must cover (RSA modulus bits), if any. */
  sizeToCheck?: number;
}

const ML_DSA_SETS: Record<number, number> = { 44: CKP.ML_DSA_44, 65: CKP.ML_DSA_65, 87: CKP.ML_DSA_87 };
const ML_KEM_SETS: Record<number, number> = {
  512: CKP.ML_KEM_512,
  768: CKP.ML_KEM_768,
  1024: CKP.ML_KEM_1024,
};

/**
 * Builds the public and private templates for a key pair. Security attributes are always set
 * explicitly (some HSMs, nShield among them, apply surprising defaults to attributes left out).
 * Both halves share the label and the CKA_ID taken from the token's RNG.
 */
export function keyPairTemplate(req: GenerateHeader, id: Buffer): KeyPairTemplate {
  const spec = keySpec(req.type);
  const { usage, protection } = req;
  const common: Attribute[] = [
    { type: CKA.TOKEN, value: protection.token },
    { type: CKA.LABEL, value: req.label },
    { type: CKA.ID, value: id },
  ];
  const publicTemplate: Attribute[] = [
    { type: CKA.CLASS, value: CKO.PUBLIC_KEY },
    ...common,
    { type: CKA.PRIVATE, value: false },
    { type: CKA.VERIFY, value: usage.verify },
    { type: CKA.ENCRYPT, value: usage.decrypt },
    { type: CKA.WRAP, value: usage.wrap },
  ];
  const privateTemplate: Attribute[] = [
    { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
    ...common,
    { type: CKA.PRIVATE, value: protection.private },
    { type: CKA.SENSITIVE, value: protection.sensitive },
    { type: CKA.EXTRACTABLE, value: protection.extractable },
    { type: CKA.SIGN, value: usage.sign },
    // Explicit, even where false is the spec default: SoftHSM defaults CKA_DECRYPT/CKA_UNWRAP to
    // true on EC keys, and a key should be able to do only what it was made for.
    { type: CKA.DECRYPT, value: usage.decrypt },
    { type: CKA.UNWRAP, value: usage.unwrap },
  ];
  // Only set when asked for: some tokens reject the attribute altogether.
  if (protection.wrapWithTrusted) privateTemplate.push({ type: CKA.WRAP_WITH_TRUSTED, value: true });
  for (const [attr, value] of Object.entries(req.extraPrivate ?? {}))
    privateTemplate.push({ type: Number(attr), value });
  const omit = new Set(req.omitWhenFalse ?? []);
  if (omit.size > 0) {
    // A vendor rule: tpm2-pkcs11 rejects an explicit CKA_DECRYPT/CKA_ENCRYPT=false (CKR_GENERAL_ERROR).
    for (const t of [publicTemplate, privateTemplate]) {
      for (let i = t.length - 1; i >= 0; i--)
        if (omit.has(t[i]!.type) && t[i]!.value === false) t.splice(i, 1);
    }
  }

  switch (spec.family) {
    case 'rsa':
      publicTemplate.push(
        { type: CKA.KEY_TYPE, value: CKK.RSA },
        { type: CKA.MODULUS_BITS, value: spec.bits },
        { type: CKA.PUBLIC_EXPONENT, value: Buffer.from([0x01, 0x00, 0x01]) },
      );
      privateTemplate.push({ type: CKA.KEY_TYPE, value: CKK.RSA });
      return {
        mechanism: { mechanism: CKM.RSA_PKCS_KEY_PAIR_GEN },
        keygenMechanism: CKM.RSA_PKCS_KEY_PAIR_GEN,
        sizeToCheck: spec.bits,
        publicTemplate,
        privateTemplate,
      };
    case 'ec':
    case 'eddsa': {
      const params = Buffer.from(CURVES[spec.curve!].ecParams);
      const keyType = spec.family === 'ec' ? CKK.EC : CKK.EC_EDWARDS;
      const mech = spec.family === 'ec' ? CKM.EC_KEY_PAIR_GEN : CKM.EC_EDWARDS_KEY_PAIR_GEN;
      publicTemplate.push({ type: CKA.KEY_TYPE, value: keyType }, { type: CKA.EC_PARAMS, value: params });
      privateTemplate.push({ type: CKA.KEY_TYPE, value: keyType });
      if (spec.family === 'ec') privateTemplate.push({ type: CKA.DERIVE, value: usage.derive });
      return { mechanism: { mechanism: mech }, keygenMechanism: mech, publicTemplate, privateTemplate };
    }
    case 'ml-dsa':
    case 'ml-kem': {
      const isDsa = spec.family === 'ml-dsa';
      const set = (isDsa ? ML_DSA_SETS : ML_KEM_SETS)[spec.parameterSet!];
      if (set === undefined) throw new HsmError('HSM_ERR_INVALID_INPUT', `no parameter set for ${req.type}`);
      const keyType = isDsa ? CKK.ML_DSA : CKK.ML_KEM;
      const mech = isDsa ? CKM.ML_DSA_KEY_PAIR_GEN : CKM.ML_KEM_KEY_PAIR_GEN;
      publicTemplate.push({ type: CKA.KEY_TYPE, value: keyType }, { type: CKA.PARAMETER_SET, value: set });
      privateTemplate.push({ type: CKA.KEY_TYPE, value: keyType });
      if (!isDsa) {
        // ML-KEM keys encapsulate; they never sign, encrypt or wrap in the PKCS#11 2.x sense.
        const drop = new Set<number>([CKA.SIGN, CKA.VERIFY, CKA.ENCRYPT, CKA.DECRYPT, CKA.WRAP, CKA.UNWRAP]);
        return {
          mechanism: { mechanism: mech },
          keygenMechanism: mech,
          publicTemplate: publicTemplate.filter((a) => !drop.has(a.type)),
          privateTemplate: privateTemplate.filter((a) => !drop.has(a.type)),
        };
      }
      return { mechanism: { mechanism: mech }, keygenMechanism: mech, publicTemplate, privateTemplate };
    }
  }
}
