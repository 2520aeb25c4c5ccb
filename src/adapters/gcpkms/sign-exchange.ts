/**
 * One asymmetricSign exchange with its integrity checks, as Google asks clients to do: send the
 * CRC32C of the digest (or data), then require that the service says it verified it, that the
 * signature matches its CRC32C, and that the signing version is the one asked for.
 */
import { createHash } from 'node:crypto';
import { HsmError } from '../../errors/index.js';
import type { SignRequest } from '../../kms/requests.js';
import type { GcpAlgorithm } from './algorithms.js';
import { crc32c } from './crc32c.js';
import type { KmsSignRequest, KmsSignResponse } from './kms-client.js';

const DIGEST_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const;

/**
 * Builds the request. RSA and ECDSA send a digest: hsmkit hashes the message in software, which
 * needs no key. EdDSA and ML-DSA send the message: the service signs it whole.
 */
export function buildSignRequest(versionName: string, alg: GcpAlgorithm, req: SignRequest): KmsSignRequest {
  const hasData = req.data !== undefined;
  const hasDigest = req.digest !== undefined;
  if (hasData === hasDigest) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'give exactly one of data and digest');
  }
  if (alg.input === 'data') {
    if (!hasData) {
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        `${alg.name} signs the message itself; send data, not a digest`,
      );
    }
    const data = req.data!;
    if (data.length === 0) throw new HsmError('HSM_ERR_DATA_INVALID', 'the data to sign is empty');
    return { name: versionName, data, dataCrc32c: crc32c(data) };
  }
  const hash = alg.sign.hash!;
  const digest = hasDigest ? req.digest! : Uint8Array.from(createHash(hash).update(req.data!).digest());
  if (digest.length !== DIGEST_BYTES[hash]) {
    throw new HsmError(
      'HSM_ERR_DATA_INVALID',
      `a ${hash} digest is ${DIGEST_BYTES[hash]} bytes, got ${digest.length}`,
    );
  }
  const wire =
    hash === 'sha256' ? { sha256: digest } : hash === 'sha384' ? { sha384: digest } : { sha512: digest };
  return { name: versionName, digest: wire, digestCrc32c: crc32c(digest) };
}

function integrity(message: string, versionName: string): HsmError {
  return new HsmError('HSM_ERR_INTEGRITY', `${message} (${versionName}); the signature was discarded`);
}

/** Checks the answer to `sent` and returns the signature; any mismatch is HSM_ERR_INTEGRITY. */
export function checkSignResponse(sent: KmsSignRequest, res: KmsSignResponse): Uint8Array {
  if (res.name !== sent.name) throw integrity(`the answer names ${res.name.slice(0, 200)}`, sent.name);
  if (sent.digestCrc32c !== undefined && !res.verifiedDigestCrc32c) {
    throw integrity('Cloud KMS did not confirm the digest CRC32C (verifiedDigestCrc32c is false)', sent.name);
  }
  if (sent.dataCrc32c !== undefined && !res.verifiedDataCrc32c) {
    throw integrity('Cloud KMS did not confirm the data CRC32C (verifiedDataCrc32c is false)', sent.name);
  }
  if (res.signatureCrc32c === undefined) throw integrity('the answer has no signatureCrc32c', sent.name);
  if (crc32c(res.signature) !== res.signatureCrc32c) {
    throw integrity('the signature does not match its signatureCrc32c', sent.name);
  }
  if (res.protectionLevel !== 'HSM') {
    throw new HsmError(
      'HSM_ERR_POLICY',
      `${sent.name} signed at protection level ${res.protectionLevel}, not HSM`,
    );
  }
  if (res.signature.length === 0) throw integrity('the signature is empty', sent.name);
  return res.signature;
}
