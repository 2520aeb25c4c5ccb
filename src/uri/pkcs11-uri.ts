/**
 * RFC 7512 PKCS#11 URIs: a strict parser and a formatter with one canonical form.
 *
 * Decisions worth knowing (see also the tests):
 * - Attribute names are matched case-sensitively (the RFC spells them lowercase); only the
 *   scheme is case-insensitive.
 * - Vendor-specific attributes: RFC 7512 lets vendors add attribute names, but any unknown
 *   name would then be silently accepted, and a typo ("tokne=") would widen a key selector.
 *   So a non-standard name is accepted only when it starts with "x-"; `vendor-aaa` from the
 *   RFC's own example is rejected with a message that says so.
 * - Raw characters must come from the RFC's grammar (unreserved, `: [ ] @ ! $ ' ( ) * + , =`,
 *   plus `&` in the path and `/ ? |` in the query); anything else must be percent-encoded.
 * - The 4096-character limit applies to the input and to its canonical form, so that every
 *   URI that parses can be formatted and parsed again (percent-encoding can triple a value).
 * - Values of `pin-value` never appear in an error message, not even a single character.
 */
import { HsmError } from '../errors/index.js';

/** The object classes a `type` attribute may name. */
export type Pkcs11ObjectType = 'private' | 'public' | 'cert' | 'secret-key' | 'data';

/** A parsed PKCS#11 URI; an absent property matches anything. */
export interface Pkcs11Uri {
  // path attributes (RFC 7512 section 2.3)
  libraryManufacturer?: string;
  libraryDescription?: string;
  /** "M" or "M.N" (CK_VERSION major and minor). */
  libraryVersion?: string;
  slotDescription?: string;
  slotManufacturer?: string;
  /** A decimal unsigned integer (CK_SLOT_ID). */
  slotId?: number;
  token?: string;
  manufacturer?: string;
  serial?: string;
  model?: string;
  /** CKA_LABEL. */
  object?: string;
  /** CKA_ID, binary. */
  id?: Uint8Array;
  type?: Pkcs11ObjectType;
  // query attributes
  modulePath?: string;
  moduleName?: string;
  pinSource?: string;
  /** vendor-specific attributes ("x-..."), path and query kept apart */
  vendorPath?: Record<string, string>;
  vendorQuery?: Record<string, string>;
}

const SCHEME = 'pkcs11:';
const MAX_URI_LENGTH = 4096;
const OBJECT_TYPES: readonly string[] = ['private', 'public', 'cert', 'secret-key', 'data'];
const PIN_VALUE = 'pin-value';
const PIN_VALUE_REJECTED =
  "pin-value is not accepted in stored URIs; use pin-source or the config's pin_file";

type TextKey =
  | 'libraryManufacturer'
  | 'libraryDescription'
  | 'slotDescription'
  | 'slotManufacturer'
  | 'token'
  | 'manufacturer'
  | 'serial'
  | 'model'
  | 'object'
  | 'modulePath'
  | 'moduleName'
  | 'pinSource';

/** How one standard attribute is named, stored and checked. */
type AttrSpec =
  | { name: string; kind: 'text'; key: TextKey; limit?: { bytes: number; field: string } }
  | { name: 'id'; kind: 'bytes'; key: 'id' }
  | { name: 'slot-id'; kind: 'slot-id'; key: 'slotId' }
  | { name: 'library-version'; kind: 'version'; key: 'libraryVersion' }
  | { name: 'type'; kind: 'type'; key: 'type' };

/** Path attributes in canonical order. Fixed-size PKCS#11 fields carry their size: a longer value never matches. */
const PATH_ATTRS: readonly AttrSpec[] = [
  {
    name: 'library-manufacturer',
    kind: 'text',
    key: 'libraryManufacturer',
    limit: { bytes: 32, field: 'CK_INFO.manufacturerID' },
  },
  {
    name: 'library-description',
    kind: 'text',
    key: 'libraryDescription',
    limit: { bytes: 32, field: 'CK_INFO.libraryDescription' },
  },
  { name: 'library-version', kind: 'version', key: 'libraryVersion' },
  {
    name: 'slot-manufacturer',
    kind: 'text',
    key: 'slotManufacturer',
    limit: { bytes: 32, field: 'CK_SLOT_INFO.manufacturerID' },
  },
  {
    name: 'slot-description',
    kind: 'text',
    key: 'slotDescription',
    limit: { bytes: 64, field: 'CK_SLOT_INFO.slotDescription' },
  },
  { name: 'slot-id', kind: 'slot-id', key: 'slotId' },
  {
    name: 'manufacturer',
    kind: 'text',
    key: 'manufacturer',
    limit: { bytes: 32, field: 'CK_TOKEN_INFO.manufacturerID' },
  },
  { name: 'model', kind: 'text', key: 'model', limit: { bytes: 16, field: 'CK_TOKEN_INFO.model' } },
  { name: 'serial', kind: 'text', key: 'serial', limit: { bytes: 16, field: 'CK_TOKEN_INFO.serialNumber' } },
  { name: 'token', kind: 'text', key: 'token', limit: { bytes: 32, field: 'CK_TOKEN_INFO.label' } },
  { name: 'object', kind: 'text', key: 'object' },
  { name: 'type', kind: 'type', key: 'type' },
  { name: 'id', kind: 'bytes', key: 'id' },
];

/** Query attributes in canonical order (pin-value is handled apart: it is never stored or emitted). */
const QUERY_ATTRS: readonly AttrSpec[] = [
  { name: 'module-name', kind: 'text', key: 'moduleName' },
  { name: 'module-path', kind: 'text', key: 'modulePath' },
  { name: 'pin-source', kind: 'text', key: 'pinSource' },
];

const PATH_BY_NAME = new Map(PATH_ATTRS.map((a) => [a.name, a]));
const QUERY_BY_NAME = new Map(QUERY_ATTRS.map((a) => [a.name, a]));

const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';
const RES_AVAIL = ":[]@!$'()*+,=";
/** Characters allowed unencoded on input (RFC 7512 pk11-pchar and pk11-qchar). */
const RAW_ALLOWED = {
  path: new Set(`${UNRESERVED}${RES_AVAIL}&`),
  query: new Set(`${UNRESERVED}${RES_AVAIL}/?|`),
} as const;
/** Bytes left unencoded in the canonical form: unreserved only, plus `/` in query values so paths stay readable. */
const CANONICAL_RAW = {
  path: new Set(UNRESERVED),
  query: new Set(`${UNRESERVED}/`),
} as const;

const NOTHING_RAW: ReadonlySet<string> = new Set();

const VENDOR_NAME = /^x-[A-Za-z0-9_-]+$/;
/** Names safe to repeat in a message: short, plain, and not something that could carry a PIN. */
const SAFE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

// ignoreBOM keeps a leading U+FEFF in a label instead of silently dropping it (which would break round trips).
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const UTF8_ENCODER = new TextEncoder();

type Component = 'path' | 'query';

/** One attribute being parsed: its name and whether its value is secret (never echoed). */
interface AttrLabel {
  name: string;
  secret: boolean;
}

function invalid(message: string): HsmError {
  return new HsmError('HSM_ERR_INVALID_URI', `PKCS#11 URI ${message}`);
}

function attrError(label: AttrLabel, why: string): HsmError {
  return invalid(`attribute ${quoteName(label.name)} ${why}`);
}

/** A name that starts with "pin-value" but is longer may have a PIN glued to it (a missing "="), so it is not echoed. */
function quoteName(name: string): string {
  const lower = name.toLowerCase();
  const safe = lower === PIN_VALUE || (SAFE_NAME.test(name) && !lower.startsWith(PIN_VALUE));
  return safe ? `"${name}"` : '(malformed name)';
}

// ---------------------------------------------------------------------------------------------
// Value checks shared by the parser and the formatter, so both accept exactly the same values.

function checkWellFormed(label: AttrLabel, value: string): void {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) throw attrError(label, 'contains an unpaired UTF-16 surrogate');
  }
}

function checkNoControl(label: AttrLabel, value: string): void {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) {
      const which = label.secret ? 'a control character' : `a control character (U+${hex4(c)}) at index ${i}`;
      throw attrError(label, `contains ${which}; control characters are not allowed`);
    }
  }
}

function hex4(c: number): string {
  return c.toString(16).toUpperCase().padStart(4, '0');
}

/** Validates a text value and returns its UTF-8 bytes. */
function checkText(label: AttrLabel, value: string, limit?: { bytes: number; field: string }): Uint8Array {
  checkWellFormed(label, value);
  checkNoControl(label, value);
  const bytes = UTF8_ENCODER.encode(value);
  if (limit !== undefined && bytes.length > limit.bytes) {
    throw attrError(
      label,
      `is ${bytes.length} bytes in UTF-8; at most ${limit.bytes} are allowed (the size of ${limit.field})`,
    );
  }
  return bytes;
}

function checkSlotId(label: AttrLabel, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw attrError(label, `must be a decimal unsigned integer up to ${Number.MAX_SAFE_INTEGER}`);
  }
}

function checkLibraryVersion(label: AttrLabel, value: string): void {
  const m = /^([0-9]+)(?:\.([0-9]+))?$/.exec(value);
  if (m === null)
    throw attrError(label, `must be "M" or "M.N" with decimal digits, e.g. "1.23"; got ${shortQuote(value)}`);
  const parts = [m[1], m[2]].filter((p): p is string => p !== undefined);
  if (parts.some((p) => Number(p) > 255)) {
    throw attrError(
      label,
      `has a component above 255 (CK_VERSION fields are bytes); got ${shortQuote(value)}`,
    );
  }
}

function checkType(label: AttrLabel, value: string): Pkcs11ObjectType {
  if (!OBJECT_TYPES.includes(value)) {
    throw attrError(label, `must be one of ${OBJECT_TYPES.join(', ')}; got ${shortQuote(value)}`);
  }
  return value as Pkcs11ObjectType;
}

function checkVendorName(name: string, where: Component): void {
  if (!VENDOR_NAME.test(name)) {
    throw invalid(
      `vendor ${where} attribute ${quoteName(name)} must be "x-" followed by letters, digits, "-" or "_"`,
    );
  }
}

/** Quotes a short non-secret value for a message; long values are summarised. */
function shortQuote(value: string): string {
  return value.length <= 40 ? JSON.stringify(value) : `a ${value.length}-character value`;
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** Percent-decodes a raw value to bytes, enforcing the RFC's set of unencoded characters. */
function percentDecode(label: AttrLabel, raw: string, where: Component): Uint8Array {
  const out: number[] = [];
  const allowed = RAW_ALLOWED[where];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '%') {
      const pair = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(pair)) {
        throw attrError(
          label,
          `has a "%" at offset ${i} of its value that is not followed by two hex digits`,
        );
      }
      out.push(Number.parseInt(pair, 16));
      i += 2;
    } else if (allowed.has(ch)) {
      out.push(ch.charCodeAt(0));
    } else {
      const what = label.secret
        ? 'a character'
        : `the character ${JSON.stringify(String.fromCodePoint(raw.codePointAt(i)!))}`;
      throw attrError(label, `has ${what} at offset ${i} of its value that must be percent-encoded`);
    }
  }
  return Uint8Array.from(out);
}

function decodeText(
  label: AttrLabel,
  raw: string,
  where: Component,
  limit?: { bytes: number; field: string },
): string {
  const bytes = percentDecode(label, raw, where);
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw attrError(label, 'is not valid UTF-8 after percent-decoding');
  }
  checkText(label, text, limit);
  return text;
}

function decodeSlotId(label: AttrLabel, raw: string, where: Component): number {
  const text = decodeText(label, raw, where);
  if (!/^[0-9]+$/.test(text)) {
    throw attrError(label, `must be a decimal unsigned integer; got ${shortQuote(text)}`);
  }
  const n = Number(text);
  checkSlotId(label, n);
  return n;
}

/** Stores one standard attribute's decoded value on the result. */
function applyStandard(out: Pkcs11Uri, spec: AttrSpec, raw: string, where: Component): void {
  const label: AttrLabel = { name: spec.name, secret: false };
  switch (spec.kind) {
    case 'text':
      out[spec.key] = decodeText(label, raw, where, spec.limit);
      return;
    case 'bytes':
      out.id = percentDecode(label, raw, where);
      return;
    case 'slot-id':
      out.slotId = decodeSlotId(label, raw, where);
      return;
    case 'version': {
      const text = decodeText(label, raw, where);
      checkLibraryVersion(label, text);
      out.libraryVersion = text;
      return;
    }
    case 'type':
      out.type = checkType(label, decodeText(label, raw, where));
      return;
  }
}

/** Splits one `name=value` segment; an empty segment or a missing `=` is an error. */
function splitAttr(segment: string, where: Component): { name: string; raw: string } {
  const sep = where === 'path' ? ';' : '&';
  if (segment === '') throw invalid(`has an empty attribute in the ${where} (a stray "${sep}")`);
  const eq = segment.indexOf('=');
  if (eq === -1) {
    throw invalid(`${where} attribute ${quoteName(segment)} has no "=" (write "name=" for an empty value)`);
  }
  if (eq === 0) throw invalid(`has an attribute with an empty name in the ${where}`);
  return { name: segment.slice(0, eq), raw: segment.slice(eq + 1) };
}

/** Explains why `name` is not allowed where it appears. */
function unknownAttr(name: string, where: Component): HsmError {
  const other = where === 'path' ? QUERY_BY_NAME.has(name) || name === PIN_VALUE : PATH_BY_NAME.has(name);
  if (other) {
    const place = where === 'path' ? 'query (after "?")' : 'path (before "?")';
    return invalid(`attribute ${quoteName(name)} belongs in the ${place}`);
  }
  const lower = name.toLowerCase();
  if (lower !== name && (PATH_BY_NAME.has(lower) || QUERY_BY_NAME.has(lower) || lower === PIN_VALUE)) {
    return invalid(`attribute ${quoteName(name)} is unknown; attribute names are lowercase`);
  }
  return invalid(
    `attribute ${quoteName(name)} is unknown in the ${where}; vendor-specific attributes must start with "x-"`,
  );
}

interface ParseState {
  uri: Pkcs11Uri;
  pinValue?: string;
}

function parseComponent(state: ParseState, text: string, where: Component, allowPin: boolean): void {
  if (text === '') return;
  const seen = new Set<string>();
  const table = where === 'path' ? PATH_BY_NAME : QUERY_BY_NAME;
  for (const segment of text.split(where === 'path' ? ';' : '&')) {
    const { name, raw } = splitAttr(segment, where);
    if (seen.has(name)) throw invalid(`has a duplicate ${where} attribute ${quoteName(name)}`);
    seen.add(name);
    const spec = table.get(name);
    if (spec !== undefined) {
      applyStandard(state.uri, spec, raw, where);
    } else if (where === 'query' && name === PIN_VALUE) {
      if (!allowPin) throw invalid(PIN_VALUE_REJECTED);
      state.pinValue = decodeText({ name, secret: true }, raw, where);
    } else if (name.startsWith('x-')) {
      checkVendorName(name, where);
      const key = where === 'path' ? 'vendorPath' : 'vendorQuery';
      const record = state.uri[key] ?? {};
      record[name] = decodeText({ name, secret: false }, raw, where);
      state.uri[key] = record;
    } else {
      throw unknownAttr(name, where);
    }
  }
}

function parse(text: string, allowPin: boolean): ParseState {
  // Checked before anything else: cheap, and bounds the work done on hostile input.
  if (text.length > MAX_URI_LENGTH) {
    throw invalid(`is ${text.length} characters long; at most ${MAX_URI_LENGTH} are allowed`);
  }
  if (text.slice(0, SCHEME.length).toLowerCase() !== SCHEME) throw invalid('must start with "pkcs11:"');
  const body = text.slice(SCHEME.length);
  const q = body.indexOf('?');
  const state: ParseState = { uri: {} };
  parseComponent(state, q === -1 ? body : body.slice(0, q), 'path', allowPin);
  if (q !== -1) parseComponent(state, body.slice(q + 1), 'query', allowPin);
  if (state.pinValue !== undefined && state.uri.pinSource !== undefined) {
    throw invalid('has both pin-source and pin-value; give only one (pin-source is preferred)');
  }
  // Percent-encoding may expand the input up to threefold; refusing here keeps format(parse(s)) parseable.
  const canonical = canonicalString(state.uri);
  if (canonical.length > MAX_URI_LENGTH) {
    throw invalid(
      `has a canonical form of ${canonical.length} characters (after percent-encoding); at most ${MAX_URI_LENGTH} are allowed`,
    );
  }
  return state;
}

/** Parses an RFC 7512 URI; throws HSM_ERR_INVALID_URI on any error, including a pin-value attribute. */
export function parsePkcs11Uri(text: string): Pkcs11Uri {
  return parse(text, false).uri;
}

/** Parses an RFC 7512 URI that may carry a pin-value, which is returned apart and never kept on the Pkcs11Uri. */
export function parsePkcs11UriWithPin(text: string): { uri: Pkcs11Uri; pinValue?: string } {
  const state = parse(text, true);
  return state.pinValue === undefined ? { uri: state.uri } : { uri: state.uri, pinValue: state.pinValue };
}

// ---------------------------------------------------------------------------------------------
// Formatting

function percentEncode(bytes: Uint8Array, raw: ReadonlySet<string>): string {
  let out = '';
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    out += raw.has(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The encoded value of one standard attribute, or undefined when it is absent. */
function formatStandard(uri: Pkcs11Uri, spec: AttrSpec, where: Component): string | undefined {
  const label: AttrLabel = { name: spec.name, secret: false };
  switch (spec.kind) {
    case 'text': {
      const value = uri[spec.key];
      return value === undefined
        ? undefined
        : percentEncode(checkText(label, value, spec.limit), CANONICAL_RAW[where]);
    }
    case 'bytes':
      // id is binary: always encoded byte by byte, so it never reads as (possibly misleading) text.
      return uri.id === undefined ? undefined : percentEncode(uri.id, NOTHING_RAW);
    case 'slot-id':
      if (uri.slotId === undefined) return undefined;
      checkSlotId(label, uri.slotId);
      return String(uri.slotId);
    case 'version':
      if (uri.libraryVersion === undefined) return undefined;
      checkLibraryVersion(label, uri.libraryVersion);
      return uri.libraryVersion;
    case 'type':
      return uri.type === undefined ? undefined : checkType(label, uri.type);
  }
}

function formatVendor(record: Record<string, string> | undefined, where: Component): string[] {
  if (record === undefined) return [];
  return Object.keys(record)
    .sort()
    .map((name) => {
      checkVendorName(name, where);
      const bytes = checkText({ name, secret: false }, record[name]!);
      return `${name}=${percentEncode(bytes, CANONICAL_RAW[where])}`;
    });
}

function formatComponent(uri: Pkcs11Uri, specs: readonly AttrSpec[], where: Component): string[] {
  const parts: string[] = [];
  for (const spec of specs) {
    const value = formatStandard(uri, spec, where);
    if (value !== undefined) parts.push(`${spec.name}=${value}`);
  }
  return parts.concat(formatVendor(where === 'path' ? uri.vendorPath : uri.vendorQuery, where));
}

function canonicalString(uri: Pkcs11Uri): string {
  const path = formatComponent(uri, PATH_ATTRS, 'path').join(';');
  const query = formatComponent(uri, QUERY_ATTRS, 'query').join('&');
  return query === '' ? `${SCHEME}${path}` : `${SCHEME}${path}?${query}`;
}

/** Canonical form (fixed attribute order, uppercase percent-encoding); never emits pin-value; throws HSM_ERR_INVALID_URI for values no valid URI can carry. */
export function formatPkcs11Uri(uri: Pkcs11Uri): string {
  const text = canonicalString(uri);
  if (text.length > MAX_URI_LENGTH) {
    throw invalid(`would be ${text.length} characters long; at most ${MAX_URI_LENGTH} are allowed`);
  }
  return text;
}

/** Convenience for key URIs: pkcs11:token=…;object=…;type=…;id=… in canonical order. */
export function keyUri(parts: {
  token?: string;
  object?: string;
  id?: Uint8Array;
  type?: Pkcs11ObjectType;
}): string {
  const uri: Pkcs11Uri = {};
  if (parts.token !== undefined) uri.token = parts.token;
  if (parts.object !== undefined) uri.object = parts.object;
  if (parts.id !== undefined) uri.id = parts.id;
  if (parts.type !== undefined) uri.type = parts.type;
  return formatPkcs11Uri(uri);
}

// ---------------------------------------------------------------------------------------------
// Hex helpers for CKA_ID

/** Hex of an id, lowercase, for logs and tables. */
export function idToHex(id: Uint8Array): string {
  let out = '';
  for (const b of id) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Parses hex (either case, even length, no separators) into id bytes; throws HSM_ERR_INVALID_INPUT on bad hex. */
export function hexToId(hex: string): Uint8Array {
  if (!/^(?:[0-9A-Fa-f]{2})*$/.test(hex)) {
    const shown = hex.length <= 64 ? JSON.stringify(hex) : `a ${hex.length}-character string`;
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `key id must be an even number of hex digits (e.g. "01a2") with no separators; got ${shown}`,
    );
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
