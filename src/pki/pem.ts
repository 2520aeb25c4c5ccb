import { invalidInput } from './pki-errors.js';

/** PEM-encodes DER with the given label (`CERTIFICATE`, `X509 CRL`, …), 64-column lines. */
export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * Reads DER from PEM or raw DER input. With PEM, the first block with one of `labels` is used;
 * anything that is neither is bad input.
 */
export function fromPemOrDer(input: Uint8Array, labels: string[], what: string): Uint8Array {
  const text = Buffer.from(input).toString('latin1');
  if (!text.includes('-----BEGIN ')) {
    if (input.length === 0) throw invalidInput(`the ${what} is empty`);
    return input;
  }
  for (const label of labels) {
    const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*)-----END ${label}-----`);
    const m = re.exec(text);
    if (m) {
      const der = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
      if (der.length === 0) throw invalidInput(`the ${what} PEM block is empty`);
      return new Uint8Array(der);
    }
  }
  throw invalidInput(`no ${labels.join(' or ')} PEM block in the ${what}`);
}

/** Every CERTIFICATE block of a PEM bundle, in order. */
export function pemCertificates(input: Uint8Array): Uint8Array[] {
  const text = Buffer.from(input).toString('latin1');
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*)-----END CERTIFICATE-----/g)) {
    out.push(new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
  }
  if (out.length === 0 && input.length > 0 && !text.includes('-----BEGIN ')) out.push(input);
  return out;
}
