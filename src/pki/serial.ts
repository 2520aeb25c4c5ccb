import type { PkiKeyManager } from './pki-key-manager.js';

/** Bits of HSM randomness in every serial (CA/Browser Forum asks for at least 64). */
export const SERIAL_BITS = 128;

/**
 * A new certificate serial: 128 bits from the HSM's RNG, as lowercase hex. The top bit is cleared
 * so the DER INTEGER is positive without a padding octet, and the value is never zero.
 */
export async function newSerial(km: PkiKeyManager): Promise<string> {
  for (;;) {
    const bytes = Buffer.from(await km.generateRandom(SERIAL_BITS / 8));
    bytes[0] = bytes[0]! & 0x7f;
    const hex = normaliseSerial(bytes.toString('hex'));
    if (hex !== '0') return hex;
  }
}

/** Canonical serial text: lowercase hex, no leading zero octets (as @peculiar/x509 prints it). */
export function normaliseSerial(hex: string): string {
  const s = hex.toLowerCase().replace(/^(00)+/, '');
  return s === '' ? '0' : s;
}
