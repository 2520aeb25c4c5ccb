/**
 * Cloud KMS resource names and hsmkit key references. A reference is either
 * `gcpkms:projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/V]` or a bare label,
 * which is the crypto key id K inside the configured key ring.
 */
import { HsmError } from '../../errors/index.js';

/** A key ring: the Cloud KMS counterpart of a token. */
export interface KeyRingName {
  project: string;
  location: string;
  keyRing: string;
}

/** A crypto key, and a version of it when one is named. */
export interface CryptoKeyName extends KeyRingName {
  cryptoKey: string;
  version?: string;
}

/** The scheme of hsmkit's Cloud KMS key URIs. */
export const GCPKMS_SCHEME = 'gcpkms:';

// Cloud KMS: key ring and crypto key ids match [a-zA-Z0-9_-]{1,63}; versions are positive integers.
const ID = /^[a-zA-Z0-9_-]{1,63}$/;
// Project ids and numbers; locations such as `global`, `us-east1`, `europe`.
const PROJECT = /^[a-z0-9][a-z0-9.:-]{0,99}$/;
const LOCATION = /^[a-z0-9-]{1,63}$/;
const VERSION = /^[1-9][0-9]{0,18}$/;

/** True when `id` is a valid crypto key or key ring id. */
export function isResourceId(id: string): boolean {
  return ID.test(id);
}

/** `projects/P/locations/L/keyRings/R`. */
export function keyRingPath(r: KeyRingName): string {
  return `projects/${r.project}/locations/${r.location}/keyRings/${r.keyRing}`;
}

/** `projects/P/locations/L/keyRings/R/cryptoKeys/K`. */
export function cryptoKeyPath(k: CryptoKeyName): string {
  return `${keyRingPath(k)}/cryptoKeys/${k.cryptoKey}`;
}

/** `…/cryptoKeys/K/cryptoKeyVersions/V`; the name must carry a version. */
export function versionPath(k: CryptoKeyName & { version: string }): string {
  return `${cryptoKeyPath(k)}/cryptoKeyVersions/${k.version}`;
}

/** The hsmkit URI of a key or key version. */
export function keyUri(k: CryptoKeyName): string {
  return (
    GCPKMS_SCHEME + (k.version === undefined ? cryptoKeyPath(k) : versionPath({ ...k, version: k.version }))
  );
}

function invalid(what: string): HsmError {
  return new HsmError('HSM_ERR_INVALID_URI', `not a Cloud KMS key reference: ${what}`);
}

/** Parses `projects/P/locations/L/keyRings/R` (the configured key ring). */
export function parseKeyRingPath(path: string): KeyRingName {
  const m = /^projects\/([^/]+)\/locations\/([^/]+)\/keyRings\/([^/]+)$/.exec(path);
  if (!m || !PROJECT.test(m[1]!) || !LOCATION.test(m[2]!) || !ID.test(m[3]!)) {
    throw new HsmError('HSM_ERR_CONFIG', `gcpkms: key ring must be projects/P/locations/L/keyRings/R`);
  }
  return { project: m[1]!, location: m[2]!, keyRing: m[3]! };
}

/** Parses a resource path of a crypto key or key version (no scheme). */
export function parseResourcePath(path: string): CryptoKeyName {
  const m =
    /^projects\/([^/]+)\/locations\/([^/]+)\/keyRings\/([^/]+)\/cryptoKeys\/([^/]+)(?:\/cryptoKeyVersions\/([^/]+))?$/.exec(
      path,
    );
  const shown = path.slice(0, 200);
  if (!m) throw invalid(shown);
  const [, project, location, keyRing, cryptoKey, version] = m;
  if (!PROJECT.test(project!) || !LOCATION.test(location!) || !ID.test(keyRing!) || !ID.test(cryptoKey!)) {
    throw invalid(shown);
  }
  if (version !== undefined && !VERSION.test(version)) throw invalid(shown);
  return {
    project: project!,
    location: location!,
    keyRing: keyRing!,
    cryptoKey: cryptoKey!,
    ...(version === undefined ? {} : { version }),
  };
}

/**
 * Resolves a key reference within the configured key ring. A URI naming another key ring is
 * HSM_ERR_KEY_NOT_FOUND, as a PKCS#11 URI naming another token is: one manager, one key ring.
 */
export function parseKeyRef(ref: unknown, ring: KeyRingName): CryptoKeyName {
  if (typeof ref !== 'string' || ref.length === 0) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'a key reference is required');
  }
  if (ref.startsWith(GCPKMS_SCHEME)) {
    const name = parseResourcePath(ref.slice(GCPKMS_SCHEME.length));
    if (keyRingPath(name) !== keyRingPath(ring)) {
      throw new HsmError(
        'HSM_ERR_KEY_NOT_FOUND',
        `the reference names key ring ${keyRingPath(name)}; this manager holds ${keyRingPath(ring)}`,
      );
    }
    return name;
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(ref)) {
    throw new HsmError('HSM_ERR_INVALID_URI', `a Cloud KMS key URI starts with ${GCPKMS_SCHEME}`);
  }
  if (!ID.test(ref)) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      'a Cloud KMS key label is a crypto key id: 1 to 63 of a-z, A-Z, 0-9, _ and -',
    );
  }
  return { ...ring, cryptoKey: ref };
}
