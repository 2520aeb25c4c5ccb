import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HsmError } from '../errors/index.js';
import {
  formatPkcs11Uri,
  hexToId,
  idToHex,
  keyUri,
  type Pkcs11ObjectType,
  type Pkcs11Uri,
  parsePkcs11Uri,
  parsePkcs11UriWithPin,
} from './index.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

/** Runs `fn` and returns the HsmError it throws; fails the test if it does not throw one. */
function thrown(fn: () => unknown): HsmError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HsmError, `expected an HsmError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

describe('parsePkcs11Uri on the RFC 7512 section 3.3 examples', () => {
  it('parses an object selected by label and type', () => {
    assert.deepEqual(parsePkcs11Uri('pkcs11:object=my-pubkey;type=public'), {
      object: 'my-pubkey',
      type: 'public',
    });
  });

  it('parses percent-encoded text, a binary id and an empty serial', () => {
    const uri = parsePkcs11Uri(
      'pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;' +
        'object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=',
    );
    assert.deepEqual(uri, {
      token: 'The Software PKCS#11 Softtoken',
      manufacturer: 'Snake Oil, Inc.',
      model: '1.0',
      object: 'my-certificate',
      type: 'cert',
      id: bytes(0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91),
      serial: '',
    });
  });

  it('decodes %25 and %3B to literal "%" and ";" inside a value', () => {
    const uri = parsePkcs11Uri(
      'pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert',
    );
    assert.equal(uri.token, 'A name with a substring %;');
  });

  // This RFC example's token label is 34 bytes of UTF-8, over the 32-byte CK_TOKEN_INFO.label field, so no
  // real token can carry it: the size rule wins and the example is refused. The same value parses as a label.
  it('rejects the small-A-with-acute example because its token label is 34 bytes (limit 32)', () => {
    const err = thrown(() =>
      parsePkcs11Uri(
        'pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert',
      ),
    );
    assert.equal(err.code, 'HSM_ERR_INVALID_URI');
    assert.match(err.message, /"token" is 34 bytes in UTF-8; at most 32/);
  });

  it('decodes the small-A-with-acute example text when it is an object label', () => {
    const uri = parsePkcs11Uri(
      'pkcs11:object=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;type=cert',
    );
    assert.deepEqual(uri, { object: 'Name with a small A with acute: á', type: 'cert' });
  });

  it('rejects the RFC example with "vendor-aaa", because vendor attributes must start with "x-"', () => {
    const err = thrown(() =>
      parsePkcs11Uri(
        'pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a' +
          '?pin-source=file:/etc/token_pin&vendor-bbb=value-b',
      ),
    );
    assert.equal(err.code, 'HSM_ERR_INVALID_URI');
    assert.match(err.message, /"vendor-aaa"/);
    assert.match(err.message, /"x-"/);
  });

  it('accepts the same example with x- vendor names, keeping path and query vendors apart', () => {
    const uri = parsePkcs11Uri(
      'pkcs11:token=my-token;object=my-certificate;type=cert;x-aaa=value-a' +
        '?pin-source=file:/etc/token_pin&x-bbb=value-b',
    );
    assert.deepEqual(uri, {
      token: 'my-token',
      object: 'my-certificate',
      type: 'cert',
      vendorPath: { 'x-aaa': 'value-a' },
      pinSource: 'file:/etc/token_pin',
      vendorQuery: { 'x-bbb': 'value-b' },
    });
  });

  it('parses a slot description', () => {
    assert.deepEqual(parsePkcs11Uri('pkcs11:slot-description=Sun%20Metaslot'), {
      slotDescription: 'Sun Metaslot',
    });
  });

  it('parses library attributes including an "M.N" library-version', () => {
    assert.deepEqual(
      parsePkcs11Uri(
        'pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23',
      ),
      {
        libraryManufacturer: 'Snake Oil, Inc.',
        libraryDescription: 'Soft Token Library',
        libraryVersion: '1.23',
      },
    );
  });

  it('parses module-name and module-path query attributes', () => {
    assert.deepEqual(parsePkcs11Uri('pkcs11:object=my-sign-key;type=private?module-name=mypkcs11'), {
      object: 'my-sign-key',
      type: 'private',
      moduleName: 'mypkcs11',
    });
    assert.deepEqual(
      parsePkcs11Uri('pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1'),
      {
        object: 'my-sign-key',
        type: 'private',
        modulePath: '/mnt/libmypkcs11.so.1',
      },
    );
  });

  it('treats the empty path "pkcs11:" as matching everything', () => {
    assert.deepEqual(parsePkcs11Uri('pkcs11:'), {});
    assert.deepEqual(parsePkcs11Uri('pkcs11:?'), {});
  });

  it('parses slot-id as a decimal number', () => {
    assert.deepEqual(parsePkcs11Uri('pkcs11:slot-id=2'), { slotId: 2 });
  });
});

describe('pin-value handling', () => {
  const withPin =
    'pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin';

  it('parsePkcs11Uri refuses a pin-value and points to pin-source', () => {
    const err = thrown(() => parsePkcs11Uri(withPin));
    assert.equal(err.code, 'HSM_ERR_INVALID_URI');
    assert.match(err.message, /pin-source/);
    assert.ok(!err.message.includes('the-pin'));
  });

  it('parsePkcs11UriWithPin returns the pin apart and never on the Pkcs11Uri', () => {
    const { uri, pinValue } = parsePkcs11UriWithPin(withPin);
    assert.equal(pinValue, 'the-pin');
    assert.deepEqual(uri, { token: 'Software PKCS#11 softtoken', manufacturer: 'Snake Oil, Inc.' });
    assert.ok(!formatPkcs11Uri(uri).includes('pin'));
  });

  it('parsePkcs11UriWithPin leaves pinValue absent when there is none', () => {
    assert.deepEqual(parsePkcs11UriWithPin('pkcs11:token=t'), { uri: { token: 't' } });
  });

  it('refuses pin-value together with pin-source', () => {
    const err = thrown(() => parsePkcs11UriWithPin('pkcs11:token=t?pin-source=file:/p&pin-value=x'));
    assert.equal(err.code, 'HSM_ERR_INVALID_URI');
  });

  it('never puts the pin value in an error message', () => {
    const secret = 'SECRET-PIN-123';
    const uris = [
      `pkcs11:token=t?pin-value=${secret}`,
      `pkcs11:token=t?pin-value=${secret}&pin-value=${secret}`,
      `pkcs11:token=t?pin-value=${secret}%ZZ`,
      `pkcs11:token=t?pin-value=${secret}%C3%28`,
      `pkcs11:token=t?pin-value=${secret}%01`,
      `pkcs11:token=t?pin-value=${secret} x`,
      `pkcs11:token=t?pin-value=${secret};x`,
      `pkcs11:token=t?pin-value=${secret}&pin-source=file:/p`,
      `pkcs11:token=t?pin-value=${secret}&bogus=1`,
      `pkcs11:pin-value=${secret}`,
      `pkcs11:type=key?pin-value=${secret}`,
      `pkcs11:object=a;object=b?pin-value=${secret}`,
      `pkcs11:?PIN-VALUE=${secret}`,
      `pkcs11:?pin-value=${secret}&`,
      `pkcs11:?pin-value=${secret}${'x'.repeat(5000)}`,
      `pkcs11:object=${'%3A'.repeat(1360)}?pin-value=${secret}`,
      `pkcs11:object=${':'.repeat(2000)}?pin-value=${secret}`,
      `pkcs11:?pin-value${secret}`,
      `http:?pin-value=${secret}`,
    ];
    const errors: HsmError[] = [];
    for (const text of uris) {
      errors.push(thrown(() => parsePkcs11Uri(text)));
      // The first URI is valid for parsePkcs11UriWithPin; every other one must fail there too.
      if (text !== uris[0]) errors.push(thrown(() => parsePkcs11UriWithPin(text)));
    }
    for (const err of errors) {
      assert.equal(err.code, 'HSM_ERR_INVALID_URI');
      for (const shown of [err.message, String(err), JSON.stringify(err.toJSON()), err.stack ?? '']) {
        assert.ok(!shown.includes(secret), `secret leaked: ${shown}`);
      }
    }
  });
});

describe('parsePkcs11Uri input rules', () => {
  it('accepts the scheme in any case', () => {
    assert.deepEqual(parsePkcs11Uri('PKCS11:object=a'), { object: 'a' });
    assert.deepEqual(parsePkcs11Uri('Pkcs11:object=a'), { object: 'a' });
  });

  it('accepts percent-escapes with lowercase or uppercase hex', () => {
    assert.equal(parsePkcs11Uri('pkcs11:object=%c3%a1%C3%A1').object, 'áá');
  });

  it('accepts any bytes in id, including invalid UTF-8', () => {
    assert.deepEqual(parsePkcs11Uri('pkcs11:id=%00%C3%28%FF').id, bytes(0x00, 0xc3, 0x28, 0xff));
    assert.deepEqual(parsePkcs11Uri('pkcs11:id=').id, bytes());
  });

  it('accepts "&" unencoded in a path value and "/", "?" and "|" unencoded in a query value', () => {
    assert.equal(parsePkcs11Uri('pkcs11:object=a&b').object, 'a&b');
    assert.equal(parsePkcs11Uri('pkcs11:?module-path=/a?b|c').modulePath, '/a?b|c');
  });

  it('accepts slot-id 0 and leading zeros', () => {
    assert.equal(parsePkcs11Uri('pkcs11:slot-id=0').slotId, 0);
    assert.equal(parsePkcs11Uri('pkcs11:slot-id=007').slotId, 7);
  });

  it('accepts token, manufacturer, model and serial exactly at their PKCS#11 field sizes', () => {
    const uri = parsePkcs11Uri(
      `pkcs11:token=${'t'.repeat(32)};manufacturer=${'m'.repeat(32)};model=${'o'.repeat(16)};serial=${'s'.repeat(16)}`,
    );
    assert.equal(uri.token?.length, 32);
    // 16 two-byte characters are 32 bytes: still within the token limit.
    assert.equal(parsePkcs11Uri(`pkcs11:token=${'%C3%A1'.repeat(16)}`).token, 'á'.repeat(16));
  });

  it('says the byte limit when a token label is too long', () => {
    const err = thrown(() => parsePkcs11Uri(`pkcs11:token=${'a'.repeat(33)}`));
    assert.match(err.message, /"token"/);
    assert.match(err.message, /33 bytes/);
    assert.match(err.message, /at most 32/);
  });

  it('explains a misplaced attribute and a wrongly-cased name', () => {
    assert.match(thrown(() => parsePkcs11Uri('pkcs11:?token=a')).message, /belongs in the path/);
    assert.match(thrown(() => parsePkcs11Uri('pkcs11:module-path=/x')).message, /belongs in the query/);
    assert.match(thrown(() => parsePkcs11Uri('pkcs11:TOKEN=a')).message, /lowercase/);
  });

  it('keeps a leading byte-order mark in a label', () => {
    assert.equal(parsePkcs11Uri('pkcs11:object=%EF%BB%BFa').object, '\uFEFFa');
  });
});

describe('parsePkcs11Uri rejects malformed input with HSM_ERR_INVALID_URI', () => {
  const cases: Array<[string, string]> = [
    ['missing scheme', 'object=a'],
    ['another scheme', 'pkcs12:object=a'],
    ['empty string', ''],
    ['duplicate attribute', 'pkcs11:object=a;object=b'],
    ['duplicate query attribute', 'pkcs11:?module-name=a&module-name=b'],
    ['duplicate vendor attribute', 'pkcs11:x-a=1;x-a=2'],
    ['unknown attribute', 'pkcs11:foo=bar'],
    ['non-x- vendor attribute', 'pkcs11:vendor-aaa=value-a'],
    ['malformed vendor name', 'pkcs11:x-a.b=1'],
    ['bare x- vendor name', 'pkcs11:x-=1'],
    ['unknown query attribute', 'pkcs11:?foo=bar'],
    ['path attribute in the query', 'pkcs11:?object=a'],
    ['query attribute in the path', 'pkcs11:module-name=a'],
    ['pin-value in the path', 'pkcs11:pin-value=1234'],
    ['uppercase attribute name', 'pkcs11:Object=a'],
    ['type not in the list', 'pkcs11:type=key'],
    ['type in the wrong case', 'pkcs11:type=Cert'],
    ['empty type', 'pkcs11:type='],
    ['negative slot-id', 'pkcs11:slot-id=-1'],
    ['non-numeric slot-id', 'pkcs11:slot-id=abc'],
    ['hex slot-id', 'pkcs11:slot-id=0x10'],
    ['fractional slot-id', 'pkcs11:slot-id=1.5'],
    ['empty slot-id', 'pkcs11:slot-id='],
    ['slot-id beyond 2^53', 'pkcs11:slot-id=9007199254740993'],
    ['library-version with three parts', 'pkcs11:library-version=1.2.3'],
    ['library-version with a letter', 'pkcs11:library-version=1a'],
    ['library-version with a trailing dot', 'pkcs11:library-version=1.'],
    ['library-version above 255', 'pkcs11:library-version=1.256'],
    ['empty library-version', 'pkcs11:library-version='],
    ['bad hex after %', 'pkcs11:object=%ZZ'],
    ['stray % at the end', 'pkcs11:object=abc%'],
    ['truncated escape', 'pkcs11:object=%4'],
    ['bad hex in id', 'pkcs11:id=%G1'],
    ['invalid UTF-8', 'pkcs11:object=%C3%28'],
    ['overlong UTF-8', 'pkcs11:object=%C0%AF'],
    ['encoded surrogate', 'pkcs11:object=%ED%A0%80'],
    ['token over 32 bytes', `pkcs11:token=${'a'.repeat(33)}`],
    ['token over 32 bytes in multibyte characters', `pkcs11:token=${'%C3%A1'.repeat(17)}`],
    ['manufacturer over 32 bytes', `pkcs11:manufacturer=${'a'.repeat(33)}`],
    ['model over 16 bytes', `pkcs11:model=${'a'.repeat(17)}`],
    ['serial over 16 bytes', `pkcs11:serial=${'a'.repeat(17)}`],
    ['URI over 4096 characters', `pkcs11:object=${'a'.repeat(5000 - 'pkcs11:object='.length)}`],
    ['canonical form over 4096 characters', `pkcs11:object=${':'.repeat(2000)}`],
    ['attribute with no "="', 'pkcs11:object'],
    ['query attribute with no "="', 'pkcs11:?module-name'],
    ['empty attribute name', 'pkcs11:=a'],
    ['trailing ";"', 'pkcs11:object=a;'],
    ['two ";" in a row', 'pkcs11:object=a;;type=cert'],
    ['trailing "&"', 'pkcs11:?module-name=a&'],
    ['encoded control character', 'pkcs11:object=a%0Ab'],
    ['encoded DEL', 'pkcs11:object=a%7F'],
    ['raw control character', 'pkcs11:object=a\u0001b'],
    ['raw space', 'pkcs11:object=a b'],
    ['raw non-ASCII character', 'pkcs11:object=á'],
    ['raw "/" in a path value', 'pkcs11:object=a/b'],
    ['raw ";" in a query value', 'pkcs11:?module-name=a;b'],
    ['raw "#"', 'pkcs11:object=a#b'],
    ['control character in a vendor value', 'pkcs11:x-a=%09'],
  ];

  for (const [what, text] of cases) {
    it(`rejects ${what}`, () => {
      const err = thrown(() => parsePkcs11Uri(text));
      assert.equal(err.code, 'HSM_ERR_INVALID_URI');
    });
  }
});

describe('formatPkcs11Uri canonical form', () => {
  it('orders path and query attributes canonically and sorts vendor attributes by name', () => {
    const uri: Pkcs11Uri = {
      id: bytes(1),
      type: 'private',
      object: 'o',
      token: 't',
      serial: 's',
      model: 'm',
      manufacturer: 'mf',
      slotId: 3,
      slotDescription: 'sd',
      slotManufacturer: 'sm',
      libraryVersion: '2.40',
      libraryDescription: 'ld',
      libraryManufacturer: 'lm',
      vendorPath: { 'x-b': '2', 'x-a': '1' },
      pinSource: 'file:/p',
      modulePath: '/usr/lib/m.so',
      moduleName: 'm',
      vendorQuery: { 'x-z': 'z', 'x-y': 'y' },
    };
    assert.equal(
      formatPkcs11Uri(uri),
      'pkcs11:library-manufacturer=lm;library-description=ld;library-version=2.40;slot-manufacturer=sm;' +
        'slot-description=sd;slot-id=3;manufacturer=mf;model=m;serial=s;token=t;object=o;type=private;id=%01;' +
        'x-a=1;x-b=2?module-name=m&module-path=/usr/lib/m.so&pin-source=file%3A/p&x-y=y&x-z=z',
    );
  });

  it('formats the empty URI as "pkcs11:"', () => {
    assert.equal(formatPkcs11Uri({}), 'pkcs11:');
  });

  it('lowercases the scheme and re-encodes with uppercase hex', () => {
    assert.equal(formatPkcs11Uri(parsePkcs11Uri('PKCS11:object=%c3%a1')), 'pkcs11:object=%C3%A1');
  });

  it('encodes everything but unreserved characters in path values', () => {
    assert.equal(
      formatPkcs11Uri({ object: "a b;c?d&e=f/g:h%i~j.k_l-m'n" }),
      'pkcs11:object=a%20b%3Bc%3Fd%26e%3Df%2Fg%3Ah%25i~j.k_l-m%27n',
    );
  });

  it('keeps "/" readable in query values and encodes the rest', () => {
    assert.equal(
      formatPkcs11Uri({ modulePath: '/opt/my hsm/lib.so' }),
      'pkcs11:?module-path=/opt/my%20hsm/lib.so',
    );
  });

  it('encodes id byte by byte, even printable bytes', () => {
    assert.equal(formatPkcs11Uri({ id: bytes(0x01, 0xa2, 0x41) }), 'pkcs11:id=%01%A2%41');
    assert.equal(formatPkcs11Uri({ id: bytes() }), 'pkcs11:id=');
  });

  it('keeps empty text values as "name="', () => {
    assert.equal(formatPkcs11Uri({ serial: '', object: '' }), 'pkcs11:serial=;object=');
  });

  it('is idempotent on the RFC examples', () => {
    const examples = [
      'pkcs11:object=my-pubkey;type=public',
      'pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;' +
        'object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=',
      'pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert',
      'pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23',
      'pkcs11:token=my-token;object=my-certificate;type=cert;x-aaa=value-a?pin-source=file:/etc/token_pin&x-bbb=b',
    ];
    for (const text of examples) {
      const once = formatPkcs11Uri(parsePkcs11Uri(text));
      assert.equal(formatPkcs11Uri(parsePkcs11Uri(once)), once);
      assert.deepEqual(parsePkcs11Uri(once), parsePkcs11Uri(text));
    }
  });

  const unformattable: Array<[string, Pkcs11Uri]> = [
    ['a token over 32 bytes', { token: 'é'.repeat(17) }],
    ['a serial over 16 bytes', { serial: 'x'.repeat(17) }],
    ['a negative slot-id', { slotId: -1 }],
    ['a fractional slot-id', { slotId: 1.5 }],
    ['a malformed library-version', { libraryVersion: 'v1' }],
    ['an unknown type', { type: 'key' as Pkcs11ObjectType }],
    ['a vendor name without x-', { vendorPath: { vendor: 'a' } }],
    ['a control character', { object: 'a\nb' }],
    ['an unpaired surrogate', { object: 'a\uD800b' }],
    ['a result over 4096 characters', { object: 'é'.repeat(1000) }],
  ];
  for (const [what, uri] of unformattable) {
    it(`throws HSM_ERR_INVALID_URI for ${what}`, () => {
      assert.equal(thrown(() => formatPkcs11Uri(uri)).code, 'HSM_ERR_INVALID_URI');
    });
  }
});

describe('keyUri', () => {
  it('builds a canonical key URI from the parts given', () => {
    assert.equal(
      keyUri({ token: 'ca tok', object: 'issuing-2025', id: bytes(0xab, 0x01), type: 'private' }),
      'pkcs11:token=ca%20tok;object=issuing-2025;type=private;id=%AB%01',
    );
    assert.equal(keyUri({ object: 'k' }), 'pkcs11:object=k');
  });
});

describe('idToHex and hexToId', () => {
  it('formats ids as lowercase hex', () => {
    assert.equal(idToHex(bytes(0x00, 0x0f, 0xa2, 0xff)), '000fa2ff');
    assert.equal(idToHex(bytes()), '');
  });

  it('parses hex of either case back to bytes', () => {
    assert.deepEqual(hexToId('000FA2ff'), bytes(0x00, 0x0f, 0xa2, 0xff));
    assert.deepEqual(hexToId(''), bytes());
  });

  for (const bad of ['abc', 'zz', '01:a2', '0x01', ' 01']) {
    it(`throws HSM_ERR_INVALID_INPUT for ${JSON.stringify(bad)}`, () => {
      assert.equal(thrown(() => hexToId(bad)).code, 'HSM_ERR_INVALID_INPUT');
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Property tests

const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

/** Drops control characters (the parser refuses them) and trims to `maxBytes` of UTF-8. */
function fitText(s: string, maxBytes: number): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c === 0x7f) continue;
    if (utf8Length(out + ch) > maxBytes) break;
    out += ch;
  }
  return out;
}

/** Characters that stress the encoder: separators, "%", non-ASCII, astral, plus any code point. */
const charArb = fc.oneof(
  fc.constantFrom('%', ';', '?', '&', '/', '=', '#', ' ', ':', '|', '~', '\uFEFF', 'á', '€', '😀'),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
const textArb = (maxBytes: number): fc.Arbitrary<string> =>
  fc.string({ unit: charArb, maxLength: maxBytes }).map((s) => fitText(s, maxBytes));
// noNullPrototype: the parser returns plain objects, and deepStrictEqual compares prototypes.
const vendorArb = fc.dictionary(fc.stringMatching(/^x-[A-Za-z0-9_-]{1,8}$/), textArb(24), {
  minKeys: 1,
  maxKeys: 3,
  noNullPrototype: true,
});

const uriArb: fc.Arbitrary<Pkcs11Uri> = fc.record(
  {
    libraryManufacturer: textArb(32),
    libraryDescription: textArb(32),
    libraryVersion: fc.oneof(
      fc.integer({ min: 0, max: 255 }).map(String),
      fc
        .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }))
        .map(([a, b]) => `${a}.${b}`),
    ),
    slotDescription: textArb(64),
    slotManufacturer: textArb(32),
    slotId: fc.maxSafeNat(),
    token: textArb(32),
    manufacturer: textArb(32),
    serial: textArb(16),
    model: textArb(16),
    object: textArb(64),
    id: fc.uint8Array({ maxLength: 64 }),
    type: fc.constantFrom<Pkcs11ObjectType>('private', 'public', 'cert', 'secret-key', 'data'),
    modulePath: textArb(64),
    moduleName: textArb(32),
    pinSource: textArb(64),
    vendorPath: vendorArb,
    vendorQuery: vendorArb,
  },
  { requiredKeys: [], noNullPrototype: true },
);

/** Strings that look like PKCS#11 URIs, so the parser gets past the first checks. */
const uriLikeArb = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        'token',
        'object',
        'id',
        'type',
        'slot-id',
        'library-version',
        'serial',
        'x-v',
        'module-path',
        'pin-source',
        'pin-value',
        'foo',
      ),
      fc.string({
        unit: fc.constantFrom('a', '1', '.', '%', '4', '1', 'C', '3', 'A', '/', ':', ' ', 'é'),
        maxLength: 8,
      }),
      fc.constantFrom(';', '&', '?'),
    ),
    { maxLength: 6 },
  )
  .map((attrs) => `pkcs11:${attrs.map(([n, v, sep], i) => `${i === 0 ? '' : sep}${n}=${v}`).join('')}`);

/** Asserts that `fn` either returns or throws an HsmError with HSM_ERR_INVALID_URI. */
function returnsOrInvalidUri<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    assert.ok(err instanceof HsmError, `not an HsmError: ${String(err)}`);
    assert.equal(err.code, 'HSM_ERR_INVALID_URI');
    return undefined;
  }
}

describe('properties', () => {
  it('parse(format(u)) deep-equals u for any URI within the limits', () => {
    fc.assert(
      fc.property(uriArb, (uri) => {
        assert.deepStrictEqual(parsePkcs11Uri(formatPkcs11Uri(uri)), uri);
      }),
      { seed: 42, numRuns: 1000 },
    );
  });

  it('parsePkcs11Uri on any "pkcs11:"-prefixed string returns or throws HSM_ERR_INVALID_URI', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (tail) => {
        returnsOrInvalidUri(() => parsePkcs11Uri(`pkcs11:${tail}`));
      }),
      { seed: 42, numRuns: 1000 },
    );
  });

  it('on URI-like strings parsing never throws anything else, and format(parse(s)) is stable', () => {
    fc.assert(
      fc.property(uriLikeArb, (text) => {
        const uri = returnsOrInvalidUri(() => parsePkcs11Uri(text));
        if (uri === undefined) return;
        const canonical = formatPkcs11Uri(uri);
        assert.deepStrictEqual(parsePkcs11Uri(canonical), uri);
        assert.equal(formatPkcs11Uri(parsePkcs11Uri(canonical)), canonical);
      }),
      { seed: 42, numRuns: 1000 },
    );
  });
});
