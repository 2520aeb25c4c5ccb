/**
 * A key version's public key as SubjectPublicKeyInfo DER, accepted only after its integrity checks:
 * the CRC32C the service sent, the version name, HSM protection, and that the key is of the type
 * the version's algorithm promises.
 */
import { describeSpki, type MlDsaSet, mlDsaSpki } from '../../crypto/public-key.js';
import { HsmError } from '../../errors/index.js';
import { keySpec } from '../../kms/key-spec.js';
import type { GcpAlgorithm } from './algorithms.js';
import { crc32c } from './crc32c.js';
import type { KmsPublicKey } from './kms-client.js';

const PEM = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\r?\n?$/;

function integrity(message: string, versionName: string): HsmError {
  return new HsmError('HSM_ERR_INTEGRITY', `${message} (${versionName}); the answer was discarded`);
}

/** Decodes a `-----BEGIN PUBLIC KEY-----` PEM (RFC 7468 strict form) to DER. */
export function pemToSpki(pem: string): Uint8Array {
  const m = PEM.exec(pem);
  if (!m) throw new HsmError('HSM_ERR_DATA_INVALID', 'the public key is not a PUBLIC KEY PEM block');
  return Uint8Array.from(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

/** Checks a GetPublicKey answer for `versionName` and returns the SPKI DER. */
export function spkiFromAnswer(answer: KmsPublicKey, versionName: string, alg: GcpAlgorithm): Uint8Array {
  if (answer.name !== versionName) {
    throw integrity(`the public key answer names ${answer.name.slice(0, 200)}`, versionName);
  }
  if (answer.protectionLevel !== 'HSM') {
    throw new HsmError('HSM_ERR_POLICY', `${versionName} is ${answer.protectionLevel} protected, not HSM`);
  }
  if (answer.algorithm !== alg.name) {
    throw integrity(`the public key is for ${answer.algorithm}, the version is ${alg.name}`, versionName);
  }
  const spki =
    alg.publicKeyFormat === 'PEM' ? fromPem(answer, versionName) : fromNistPqc(answer, versionName, alg);
  checkKeyType(spki, versionName, alg);
  return spki;
}

function fromPem(answer: KmsPublicKey, versionName: string): Uint8Array {
  if (answer.pemCrc32c === undefined) throw integrity('the public key came without pemCrc32c', versionName);
  if (crc32c(answer.pem) !== answer.pemCrc32c)
    throw integrity('the public key PEM fails its CRC32C', versionName);
  return pemToSpki(answer.pem);
}

function fromNistPqc(answer: KmsPublicKey, versionName: string, alg: GcpAlgorithm): Uint8Array {
  if (answer.data === undefined || answer.dataCrc32c === undefined) {
    throw integrity('the NIST_PQC public key came without data or its crc32cChecksum', versionName);
  }
  if (crc32c(answer.data) !== answer.dataCrc32c) {
    throw integrity('the NIST_PQC public key fails its CRC32C', versionName);
  }
  return mlDsaSpki(keySpec(alg.keyType).parameterSet as MlDsaSet, answer.data);
}

function checkKeyType(spki: Uint8Array, versionName: string, alg: GcpAlgorithm): void {
  const spec = keySpec(alg.keyType);
  let d: ReturnType<typeof describeSpki>;
  try {
    d = describeSpki(spki);
  } catch (err) {
    throw new HsmError('HSM_ERR_INTEGRITY', `the public key of ${versionName} does not parse`, {
      cause: err,
    });
  }
  const fits =
    spec.family === 'rsa'
      ? d.kind === 'rsa' && d.bits === spec.bits
      : spec.family === 'ec'
        ? d.kind === 'ec' && d.curve === spec.curve
        : spec.family === 'eddsa'
          ? d.kind === 'ed25519' && spec.type === 'ed25519'
          : d.kind === 'ml-dsa' && d.set === spec.parameterSet;
  if (!fits) throw integrity(`the public key is not a ${spec.type} key`, versionName);
}
