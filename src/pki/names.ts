import { isIP } from 'node:net';
import { invalidInput, printable } from './pki-errors.js';
import { type JsonGeneralName, Name } from './x509.js';

/** Parses a subject DN such as `CN=Root CA,O=Example` (RFC 4514 order as written). */
export function parseSubject(text: string): Name {
  if (typeof text !== 'string' || text.trim() === '' || !text.includes('=')) {
    throw invalidInput('a subject such as "CN=Example Root,O=Example" is required');
  }
  let name: Name;
  try {
    name = new Name(text);
  } catch (err) {
    throw invalidInput(`subject "${printable(text)}" is not a distinguished name`, err);
  }
  const rdns = name.toJSON();
  if (rdns.length === 0) throw invalidInput(`subject "${printable(text)}" has no attributes`);
  for (const rdn of rdns) {
    for (const values of Object.values(rdn)) {
      if (values.some((v) => v.trim() === '')) {
        throw invalidInput(`subject "${printable(text)}" has an empty attribute value`);
      }
    }
  }
  return name;
}

/** Subject alternative names as `--san` writes them: `dns:a.example,ip:10.0.0.1,email:x@y,uri:https://…`. */
export function parseSans(text: string | undefined): JsonGeneralName[] {
  if (text === undefined || text.trim() === '') return [];
  return text.split(',').map((part) => {
    const colon = part.indexOf(':');
    const kind = part.slice(0, colon).trim().toLowerCase();
    const value = part.slice(colon + 1).trim();
    if (colon <= 0 || value === '') throw invalidInput(`SAN "${printable(part)}" is not kind:value`);
    switch (kind) {
      case 'dns':
        if (!isDnsName(value)) throw invalidInput(`"${printable(value)}" is not a DNS name`);
        return { type: 'dns', value: value.toLowerCase() };
      case 'ip':
        if (isIP(value) === 0) throw invalidInput(`"${printable(value)}" is not an IP address`);
        return { type: 'ip', value };
      case 'email':
        if (!/^[^@\s]+@[^@\s]+$/.test(value))
          throw invalidInput(`"${printable(value)}" is not an email address`);
        return { type: 'email', value };
      case 'uri':
      case 'url':
        if (!URL.canParse(value)) throw invalidInput(`"${printable(value)}" is not a URI`);
        return { type: 'url', value };
      default:
        throw invalidInput(`unknown SAN kind "${printable(kind)}"; use dns:, ip:, email: or uri:`);
    }
  });
}

/** A DNS name (a leading `*.` wildcard label allowed), LDH labels of at most 63 characters. */
export function isDnsName(value: string): boolean {
  if (value.length > 253) return false;
  const labels = value.replace(/^\*\./, '').split('.');
  return labels.length >= 1 && labels.every((l) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i.test(l));
}
