import { webcrypto } from 'node:crypto';
import { HsmError } from '../errors/index.js';
import type { PkiKeyManager } from './pki-key-manager.js';
import { HSM_KEY, type HsmCryptoKey } from './signing-key.js';

/** Something that signs a to-be-signed blob with an HSM key; the x509 generators call it. */
export type TbsSigner = (key: HsmCryptoKey, tbs: Uint8Array) => Promise<Uint8Array>;

/** A TbsSigner that sends each signature to the HSM through `km.sign`. */
export function hsmTbsSigner(km: PkiKeyManager): TbsSigner {
  return (key, tbs) => {
    const k = key[HSM_KEY];
    // WebCrypto-style code (the x509 signature formatter) expects ECDSA as r‖s, so ask for raw.
    return km.sign({ key: k.uri, data: tbs, algorithm: k.algorithms.sign, format: 'raw' });
  };
}

/**
 * A WebCrypto `Crypto` for @peculiar/x509's generators (`create(params, crypto)`): `subtle.sign`
 * goes to the HSM; public operations (digest, verify, import) are Node's. `getRandomValues`
 * refuses, so a serial number can never silently come from software: callers pass HSM serials.
 */
export function hsmCrypto(sign: TbsSigner): webcrypto.Crypto {
  const subtle = webcrypto.subtle;
  const hsmSubtle = new Proxy(subtle, {
    get(target, prop) {
      if (prop === 'sign') {
        return async (
          _alg: unknown,
          key: HsmCryptoKey,
          data: ArrayBuffer | ArrayBufferView,
        ): Promise<ArrayBuffer> => {
          if (typeof key !== 'object' || key === null || !(HSM_KEY in key)) {
            throw new HsmError('HSM_ERR_INTERNAL', 'the PKI crypto provider signs with HSM keys only');
          }
          const sig = await sign(key, toBytes(data));
          // A copy: a Buffer from the IPC layer is a view into a shared pool, and .buffer would be the pool.
          return new Uint8Array(sig).buffer as ArrayBuffer;
        };
      }
      if (prop === 'exportKey') {
        return async (format: string, key: unknown) => {
          if (typeof key === 'object' && key !== null && HSM_KEY in key) {
            // The public half is public: the CSR generator asks for it. The private half never leaves.
            if (format === 'spki') return new Uint8Array((key as HsmCryptoKey)[HSM_KEY].spki).buffer;
            throw new HsmError('HSM_ERR_KEY_NOT_EXTRACTABLE', `an HSM key cannot be exported (${format})`);
          }
          return subtle.exportKey(format as 'spki', key as webcrypto.CryptoKey);
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return {
    subtle: hsmSubtle,
    getRandomValues: () => {
      throw new HsmError('HSM_ERR_INTERNAL', 'PKI randomness must come from the HSM (pass a serial)');
    },
    randomUUID: () => webcrypto.randomUUID(),
  } as unknown as webcrypto.Crypto;
}

function toBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}
