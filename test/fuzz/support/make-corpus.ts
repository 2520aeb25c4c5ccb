/**
 * Writes the committed fuzz corpus (`test/fuzz/corpus/<parser>/…`). Run by hand when the corpus
 * should change: `node --import tsx test/fuzz/support/make-corpus.ts`. Every file is small and
 * named `<case>.<kind>.input` (the suffix keeps biome from formatting or linting it); the
 * 10 MB inputs are made at test time and never committed. `valid-*` files are seeds the parser must
 * accept; every other file must be refused with a typed error.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { encodeFrame } from '../../../src/adapters/pkcs11/ipc/framing.js';
import { encodeBatch } from '../../../src/adapters/pkcs11/ipc/messages.js';
import { nestedIndefinite, nestedSequences, tlv } from './der-arbitraries.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', 'corpus');

/** Writes one corpus file; the `.input` suffix keeps formatters and linters (biome) off it. */
function put(parser: string, name: string, data: string | Uint8Array): void {
  mkdirSync(join(ROOT, parser), { recursive: true });
  writeFileSync(join(ROOT, parser, `${name}.input`), data);
}

const INVALID_UTF8 = Buffer.from([
  0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0xff, 0xfe,
]);

// ---------------------------------------------------------------- CSR (DER and PEM)
function csrCorpus(): void {
  const work = mkdtempSync(join(tmpdir(), 'hsmkit-corpus-'));
  try {
    const make = (name: string, keyArgs: string[], der: boolean) => {
      const key = join(work, `${name}.key`);
      execFileSync('openssl', ['genpkey', ...keyArgs, '-out', key], { stdio: 'ignore' });
      const out = join(work, `${name}.csr`);
      execFileSync(
        'openssl',
        [
          'req',
          '-new',
          '-key',
          key,
          '-subj',
          `/CN=${name}.example/O=fuzz`,
          '-addext',
          `subjectAltName=DNS:${name}.example`,
          '-outform',
          der ? 'DER' : 'PEM',
          '-out',
          out,
        ],
        { stdio: 'ignore' },
      );
      return readFileSync(out);
    };
    const p256 = make('p256', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], false);
    const rsaDer = make('rsa', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], true);
    const ed = make('ed25519', ['-algorithm', 'ED25519'], false);
    put('csr', 'valid-p256.pem', p256);
    put('csr', 'valid-rsa2048.der', rsaDer);
    put('csr', 'valid-ed25519.pem', ed);
    const der = rsaDer;
    put('csr', 'truncated-half.der', der.subarray(0, der.length >> 1));
    put('csr', 'truncated-one-byte-short.der', der.subarray(0, der.length - 1));
    put('csr', 'trailing-garbage.der', Buffer.concat([der, Buffer.from('GARBAGE')]));
    const wrongTag = Buffer.from(der);
    wrongTag[0] = 0x31;
    put('csr', 'wrong-outer-tag-set.der', wrongTag);
    const overLong = Buffer.from(der);
    overLong[3] = overLong[3]! + 1; // outer length one more than the data
    put('csr', 'outer-length-overlong.der', overLong);
    put('csr', 'huge-length-4gib.der', Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30, 0x00]));
    put(
      'csr',
      'huge-length-8-octets.der',
      Buffer.from([0x30, 0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00]),
    );
    put('csr', 'deep-nesting-2000.der', nestedSequences(2000));
    put('csr', 'deep-indefinite-3000.der', nestedIndefinite(3000));
    put('csr', 'empty.der', Buffer.alloc(0));
    put('csr', 'single-zero.der', Buffer.from([0]));
    put('csr', 'null.der', Buffer.from([0x05, 0x00]));
    put('csr', 'sequence-of-nothing.der', Buffer.from([0x30, 0x00]));
    put(
      'csr',
      'certificate-not-csr.der',
      tlv(
        0x30,
        Buffer.concat([
          tlv(0x30, tlv(0x02, Buffer.from([1]))),
          tlv(0x30, Buffer.alloc(0)),
          tlv(0x03, Buffer.from([0])),
        ]),
      ),
    );
    const sigFlip = Buffer.from(der);
    sigFlip[sigFlip.length - 3] = sigFlip[sigFlip.length - 3]! ^ 0x01;
    put('csr', 'bad-signature.der', sigFlip);
    const pemText = p256.toString('latin1');
    put(
      'csr',
      'pem-empty-block.pem',
      '-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n',
    );
    put(
      'csr',
      'pem-bad-base64.pem',
      '-----BEGIN CERTIFICATE REQUEST-----\n!!!!$$$$****\n-----END CERTIFICATE REQUEST-----\n',
    );
    put('csr', 'pem-wrong-label.pem', pemText.replaceAll('CERTIFICATE REQUEST', 'PRIVATE KEY'));
    put('csr', 'pem-no-end.pem', pemText.split('-----END')[0]!);
    put('csr', 'pem-truncated-body.pem', pemText.replace(/\n[A-Za-z0-9+/=]+\n-----END/, '\n-----END'));
    put(
      'csr',
      'pem-invalid-utf8.pem',
      Buffer.concat([
        Buffer.from('-----BEGIN CERTIFICATE REQUEST-----\n'),
        INVALID_UTF8,
        Buffer.from('\n-----END CERTIFICATE REQUEST-----\n'),
      ]),
    );
    put('csr', 'pem-header-only.pem', '-----BEGIN ');
    put('csr', 'invalid-utf8.bin', INVALID_UTF8);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- OCSP requests
function ocspRequest(opts: {
  ids?: number;
  hashOid?: string;
  nonce?: Uint8Array;
  serial?: Uint8Array;
}): Buffer {
  const req = new pkijs.OCSPRequest();
  const hashOid = opts.hashOid ?? '1.3.14.3.2.26';
  for (let i = 0; i < (opts.ids ?? 1); i++) {
    req.tbsRequest.requestList.push(
      new pkijs.Request({
        reqCert: new pkijs.CertID({
          hashAlgorithm: new pkijs.AlgorithmIdentifier({
            algorithmId: hashOid,
            algorithmParams: new asn1js.Null(),
          }),
          issuerNameHash: new asn1js.OctetString({ valueHex: new Uint8Array(20).fill(1) }),
          issuerKeyHash: new asn1js.OctetString({ valueHex: new Uint8Array(20).fill(2) }),
          serialNumber: new asn1js.Integer({ valueHex: opts.serial ?? new Uint8Array([1, 2, 3, i]) }),
        }),
      }),
    );
  }
  if (opts.nonce) {
    req.tbsRequest.requestExtensions = [
      new pkijs.Extension({
        extnID: '1.3.6.1.5.5.7.48.1.2',
        extnValue: new asn1js.OctetString({ valueHex: opts.nonce }).toBER(),
      }),
    ];
  }
  return Buffer.from(req.toSchema(true).toBER());
}

function ocspCorpus(): void {
  const one = ocspRequest({});
  put('ocsp', 'zero-certids.der', ocspRequest({ ids: 0 }));
  put('ocsp', 'seventeen-certids.der', ocspRequest({ ids: 17 }));
  put('ocsp', 'md5-certid.der', ocspRequest({ hashOid: '1.2.840.113549.2.5' }));
  put('ocsp', 'unknown-hash-oid.der', ocspRequest({ hashOid: '1.2.3.4.5.6.7.8.9' }));
  put('ocsp', 'nonce-empty.der', ocspRequest({ nonce: new Uint8Array(0) }));
  put('ocsp', 'nonce-33-octets.der', ocspRequest({ nonce: new Uint8Array(33).fill(7) }));
  put('ocsp', 'nonce-1024-octets.der', ocspRequest({ nonce: new Uint8Array(1024).fill(7) }));
  put('ocsp', 'truncated.der', one.subarray(0, one.length - 5));
  put('ocsp', 'trailing-garbage.der', Buffer.concat([one, Buffer.from([0, 0, 0])]));
  const wrongTag = Buffer.from(one);
  wrongTag[0] = 0x31;
  put('ocsp', 'wrong-outer-tag.der', wrongTag);
  put('ocsp', 'huge-length.der', Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30, 0x00]));
  put('ocsp', 'deep-nesting-4000.der', nestedSequences(4000));
  put('ocsp', 'deep-indefinite-4000.der', nestedIndefinite(4000));
  put('ocsp', 'over-16kib.der', tlv(0x30, Buffer.alloc(16 * 1024, 0x41)));
  put('ocsp', 'empty-sequence.der', Buffer.from([0x30, 0x00]));
  put('ocsp', 'integer-not-sequence.der', Buffer.from([0x02, 0x01, 0x05]));
  put('ocsp', 'invalid-utf8.bin', INVALID_UTF8);
  put('ocsp', 'http-get-not-base64.txt', '%%%%not-base64!!');
  put('ocsp', 'json.txt', '{"__proto__":{"polluted":true}}');
}

// ---------------------------------------------------------------- PKCS#11 URIs
function uriCorpus(): void {
  put(
    'uri',
    'valid-full.txt',
    'pkcs11:token=hsmkit-dev;object=ca-root;type=private;id=%01%02?module-path=/usr/lib/softhsm/libsofthsm2.so',
  );
  put('uri', 'over-long-4097.txt', `pkcs11:object=${'a'.repeat(4097 - 14)}`);
  put('uri', 'canonical-over-long.txt', `pkcs11:object=${'!'.repeat(1400)}`);
  put('uri', 'pin-value.txt', 'pkcs11:token=a?pin-value=1234');
  put('uri', 'pin-value-and-source.txt', 'pkcs11:token=a?pin-value=1234&pin-source=file:/x');
  put('uri', 'bad-percent.txt', 'pkcs11:object=%G1');
  put('uri', 'truncated-percent.txt', 'pkcs11:object=abc%2');
  put('uri', 'percent-invalid-utf8.txt', 'pkcs11:object=%C3%28%FF');
  put('uri', 'percent-nul.txt', 'pkcs11:object=a%00b');
  put('uri', 'lone-surrogate.txt', 'pkcs11:object=%ED%A0%80');
  put('uri', 'raw-invalid-utf8.bin', Buffer.concat([Buffer.from('pkcs11:object='), INVALID_UTF8]));
  put('uri', 'duplicate-attribute.txt', 'pkcs11:object=a;object=b');
  put('uri', 'unknown-attribute.txt', 'pkcs11:tokne=a');
  put('uri', 'proto-attribute.txt', 'pkcs11:__proto__=polluted');
  put('uri', 'constructor-attribute.txt', 'pkcs11:constructor=x;prototype=y');
  put('uri', 'vendor-proto-query.txt', 'pkcs11:object=a?__proto__=x');
  put('uri', 'slot-id-huge.txt', 'pkcs11:slot-id=99999999999999999999999');
  put('uri', 'slot-id-negative.txt', 'pkcs11:slot-id=-1');
  put('uri', 'library-version-bad.txt', 'pkcs11:library-version=1.256');
  put('uri', 'type-unknown.txt', 'pkcs11:type=secret');
  put('uri', 'wrong-scheme.txt', 'pkcs12:object=a');
  put('uri', 'empty-attribute.txt', 'pkcs11:object=a;;type=private');
  put('uri', 'no-equals.txt', 'pkcs11:object');
  put('uri', 'token-label-33-bytes.txt', `pkcs11:token=${'t'.repeat(33)}`);
  put('uri', 'query-in-path.txt', 'pkcs11:module-path=/x');
  put('uri', 'empty.txt', '');
}

// ---------------------------------------------------------------- YAML config
function configCorpus(): void {
  const base =
    'hsm_configuration:\n  provider: softhsm2\n  connection:\n    type: local\n    module: /usr/lib/softhsm/libsofthsm2.so\n    token_label: t\n';
  const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (const [i, c] of 'bcdefghi'.split('').entries()) {
    const prev = 'abcdefghi'[i];
    laughs.push(
      `${c}: &${c} [*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev}]`,
    );
  }
  put('config', 'billion-laughs.yaml', `${laughs.join('\n')}\n`);
  put('config', 'deep-nesting-flow.yaml', `hsm_configuration: ${'['.repeat(3000)}${']'.repeat(3000)}\n`);
  put(
    'config',
    'deep-nesting-block.yaml',
    `hsm_configuration:\n${Array.from({ length: 200 }, (_, i) => `${'  '.repeat(i + 1)}k${i}:`).join('\n')} x\n`,
  );
  put('config', 'proto-key-root.yaml', `${base}__proto__:\n  polluted: true\n`);
  put('config', 'proto-key-env.yaml', `${base}    env:\n      __proto__: { polluted: "yes" }\n`);
  put('config', 'constructor-key.yaml', `${base}constructor:\n  prototype:\n    polluted: true\n`);
  put('config', 'duplicate-key.yaml', `${base}  provider: thales_luna\n`);
  put('config', 'tabs-indent.yaml', 'hsm_configuration:\n\tprovider: softhsm2\n');
  put(
    'config',
    'invalid-utf8.yaml',
    Buffer.concat([Buffer.from('hsm_configuration:\n  provider: '), INVALID_UTF8, Buffer.from('\n')]),
  );
  put('config', 'multiple-docs.yaml', `${base}---\n${base}`);
  put('config', 'binary-tag.yaml', 'hsm_configuration: !!binary aGVsbG8=\n');
  put('config', 'unknown-tag.yaml', 'hsm_configuration: !ruby/object:Gem::Installer {}\n');
  put(
    'config',
    'huge-number.yaml',
    `${base}  performance:\n    batch_size: 1e400\n    operation_timeout_ms: 99999999999999999999999999\n`,
  );
  put(
    'config',
    'negative-numbers.yaml',
    `${base}  performance:\n    batch_size: -1\n    connection_pool_size: -0\n`,
  );
  put('config', 'unset-env.yaml', `${base}    pin: \${HSMKIT_FUZZ_NEVER_SET}\n`);
  put('config', 'bad-interpolation.yaml', `${base}    pin: \${1BAD}\n`);
  put('config', 'scalar-root.yaml', '42\n');
  put('config', 'list-root.yaml', '- a\n- b\n');
  put('config', 'empty.yaml', '');
  put('config', 'recursive-alias.yaml', 'a: &a\n  b: *a\n');
  put('config', 'merge-key.yaml', `x: &x { provider: softhsm2 }\nhsm_configuration:\n  <<: *x\n`);
  put(
    'config',
    'bom-and-nul.yaml',
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${base}\0\n`)]),
  );
}

// ---------------------------------------------------------------- policy documents
function policyCorpus(): void {
  put('policy', 'valid-minimal.yaml', 'version: 1\nname: fuzz-seed\n');
  put('policy', 'version-2.yaml', 'version: 2\n');
  put('policy', 'proto-root.yaml', '__proto__:\n  polluted: true\n');
  put('policy', 'constructor-root.yaml', 'constructor:\n  prototype:\n    polluted: true\n');
  put('policy', 'proto-in-purposes.yaml', 'keys:\n  purposes:\n    __proto__: { key_types: [ec-p384] }\n');
  put('policy', 'proto-in-roles.yaml', 'access:\n  roles:\n    __proto__: [{ operations: ["*"] }]\n');
  put('policy', 'unknown-role.yaml', 'access:\n  roles:\n    root: [{ operations: ["*"] }]\n');
  put(
    'policy',
    'billion-laughs.yaml',
    [
      'a: &a [x,x,x,x,x,x,x,x,x]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
    ].join('\n'),
  );
  put('policy', 'deep-nesting.yaml', `tests: ${'['.repeat(3000)}${']'.repeat(3000)}\n`);
  put('policy', 'quorum-m-over-n.yaml', 'export:\n  mode: wrap_backup\n  quorum: { m: 3, n: 2 }\n');
  put('policy', 'huge-days.yaml', 'keys:\n  purposes:\n    root_ca: { max_age_days: 1e400 }\n');
  put(
    'policy',
    'rsa-size-string.yaml',
    'security_policy:\n  minimum_key_size: { rsa: "4096; DROP TABLE" }\n',
  );
  put(
    'policy',
    'invalid-utf8.yaml',
    Buffer.concat([Buffer.from('name: '), INVALID_UTF8, Buffer.from('\nversion: x\n')]),
  );
  put('policy', 'binary-tag.yaml', '!!binary aGVsbG8=\n');
  put('policy', 'set-tag.yaml', '!!set { a, b }\n');
  put('policy', 'multiple-docs.yaml', 'version: 1\n---\nversion: 1\n');
  put('policy', 'scalar-root.yaml', 'just a string\n');
  put('policy', 'recursive-alias.yaml', 'tests: &t [*t]\n');
  put(
    'policy',
    'selector-injection.yaml',
    'access:\n  roles:\n    signer: [{ operations: [key.sign], keys: ["label"] }]\n',
  );
}

// ---------------------------------------------------------------- key-generation request JSON
function keyRequestCorpus(): void {
  put(
    'key-request',
    'valid-rsa.json',
    JSON.stringify({ label: 'issuing-ca-2026', key_type: 'RSA', key_size: 4096 }),
  );
  put(
    'key-request',
    'valid-ec.json',
    JSON.stringify({
      label: 'ocsp-1',
      key_type: 'EC',
      curve: 'P-384',
      metadata: { purpose: 'ocsp', tags: { env: 'prod' } },
    }),
  );
  put('key-request', 'proto-root.json', '{"__proto__":{"polluted":true},"label":"a","key_type":"ec-p256"}');
  put('key-request', 'constructor-key-type.json', '{"label":"a","key_type":"constructor"}');
  put('key-request', 'proto-key-type.json', '{"label":"a","key_type":"__proto__"}');
  put(
    'key-request',
    'constructor-prototype.json',
    '{"label":"a","key_type":"ec-p256","constructor":{"prototype":{"polluted":true}}}',
  );
  put(
    'key-request',
    'proto-in-attributes.json',
    '{"label":"a","key_type":"ec-p256","attributes":{"__proto__":{"extractable":true}}}',
  );
  put('key-request', 'huge-number.json', '{"label":"a","key_type":"RSA","key_size":1e400}');
  put(
    'key-request',
    'huge-integer.json',
    '{"label":"a","key_type":"RSA","key_size":123456789012345678901234567890}',
  );
  put('key-request', 'negative-size.json', '{"label":"a","key_type":"RSA","key_size":-2048}');
  put('key-request', 'fraction-size.json', '{"label":"a","key_type":"RSA","key_size":2048.5}');
  put('key-request', 'deep-nesting.json', `${'['.repeat(5000)}${']'.repeat(5000)}`);
  put('key-request', 'deep-nesting-object.json', `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`);
  put(
    'key-request',
    'invalid-utf8.json',
    Buffer.concat([Buffer.from('{"label":"'), INVALID_UTF8, Buffer.from('","key_type":"ec-p256"}')]),
  );
  put('key-request', 'truncated.json', '{"label":"a","key_type":"RS');
  put('key-request', 'trailing-garbage.json', '{"label":"a","key_type":"ec-p256"} x');
  put('key-request', 'array-root.json', '[{"label":"a","key_type":"ec-p256"}]');
  put('key-request', 'null.json', 'null');
  put('key-request', 'empty.json', '');
  put('key-request', 'rsa-odd-size.json', '{"label":"a","key_type":"RSA","key_size":1234}');
  put('key-request', 'type-mismatch.json', '{"label":5,"key_type":["RSA"],"attributes":"yes"}');
  put('key-request', 'unknown-field.json', '{"label":"a","key_type":"ec-p256","pin":"1234"}');
}

// ---------------------------------------------------------------- audit exports (audit.jsonl)
function auditCorpus(): void {
  const rec = {
    actor: 'root',
    authMethod: 'local',
    correlationId: 'c',
    hash: '0'.repeat(64),
    latencyMs: 1,
    operation: 'key.sign',
    paramsDigest: '0'.repeat(64),
    prevHash: '0'.repeat(64),
    result: 'ok',
    role: 'admin',
    seq: 1,
    timestamp: '2026-01-01T00:00:00.000Z',
  };
  put('audit-export', 'null-line.jsonl', 'null\n');
  put('audit-export', 'number-line.jsonl', '42\n');
  put('audit-export', 'string-line.jsonl', '"record"\n');
  put('audit-export', 'array-line.jsonl', '[1,2,3]\n');
  put('audit-export', 'truncated-json.jsonl', `${JSON.stringify(rec).slice(0, 40)}\n`);
  put('audit-export', 'wrong-hash.jsonl', `${JSON.stringify(rec)}\n`);
  put(
    'audit-export',
    'huge-latency.jsonl',
    `${JSON.stringify(rec).replace('"latencyMs":1', '"latencyMs":1e400')}\n`,
  );
  put('audit-export', 'seq-string.jsonl', `${JSON.stringify({ ...rec, seq: '1' })}\n`);
  put('audit-export', 'checkpoint-not-object.jsonl', `${JSON.stringify({ ...rec, checkpoint: 'x' })}\n`);
  put(
    'audit-export',
    'checkpoint-payload-garbage.jsonl',
    `${JSON.stringify({ ...rec, checkpoint: { payload: '{{{', signature: 'AA==', algorithm: 'x', keyUri: 'pkcs11:' } })}\n`,
  );
  put(
    'audit-export',
    'checkpoint-payload-number.jsonl',
    `${JSON.stringify({ ...rec, checkpoint: { payload: 5, signature: 5 } })}\n`,
  );
  put(
    'audit-export',
    'proto-keys.jsonl',
    '{"__proto__":{"polluted":true},"seq":1}\n{"constructor":{"prototype":{"polluted":true}}}\n',
  );
  put('audit-export', 'deep-nesting.jsonl', `{"actor":${'['.repeat(5000)}${']'.repeat(5000)}}\n`);
  put(
    'audit-export',
    'invalid-utf8.jsonl',
    Buffer.concat([Buffer.from('{"actor":"'), INVALID_UTF8, Buffer.from('"}\n')]),
  );
  put('audit-export', 'binary.jsonl', Buffer.from([0, 1, 2, 3, 0xff, 0x0a, 0x7b]));
  put('audit-export', 'reordered.jsonl', `${JSON.stringify({ ...rec, seq: 2 })}\n${JSON.stringify(rec)}\n`);
}

// ---------------------------------------------------------------- member-host IPC frames
function ipcCorpus(): void {
  const good = encodeBatch([{ id: 1, tag: 1, header: { k: '01', m: 4161 }, body: Buffer.from('data') }]);
  put('ipc', 'valid-sign-batch.bin', good);
  put('ipc', 'empty.bin', Buffer.alloc(0));
  put('ipc', 'count-only-huge.bin', Buffer.from([0xff, 0xff, 0xff, 0xff]));
  put('ipc', 'truncated-entry.bin', good.subarray(0, good.length - 3));
  put('ipc', 'trailing-bytes.bin', Buffer.concat([good, Buffer.from([0])]));
  const badJson = Buffer.from(good);
  badJson[13] = 0x7d; // '{' → '}'
  put('ipc', 'header-not-json.bin', badJson);
  const hugeHeader = Buffer.from(good);
  hugeHeader.writeUInt32BE(0xffffffff, 9);
  put('ipc', 'header-length-huge.bin', hugeHeader);
  const hugeBody = Buffer.from(good);
  hugeBody.writeUInt32BE(0xfffffff0, good.length - 8);
  put('ipc', 'body-length-huge.bin', hugeBody);
  const invalid = Buffer.concat([
    Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, INVALID_UTF8.length]),
    INVALID_UTF8,
    Buffer.from([0, 0, 0, 0]),
  ]);
  put('ipc', 'header-invalid-utf8.bin', invalid);
  const deep = Buffer.from(`${'['.repeat(4000)}${']'.repeat(4000)}`);
  put(
    'ipc',
    'valid-header-deep-nesting.bin',
    Buffer.concat([
      Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 1]),
      Buffer.from(u32(deep.length)),
      deep,
      Buffer.from([0, 0, 0, 0]),
    ]),
  );
  put('ipc', 'frame-length-over-max.frame', Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
  put('ipc', 'frame-then-garbage.frame', Buffer.concat([encodeFrame(good), Buffer.from([0x20, 0, 0, 0])]));
}

function u32(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

// ---------------------------------------------------------------- HTTP JSON bodies
function serverCorpus(): void {
  put('server', 'proto.json', '{"__proto__":{"polluted":true}}');
  put('server', 'constructor-prototype.json', '{"constructor":{"prototype":{"polluted":true}}}');
  put('server', 'deep-array.json', `${'['.repeat(10000)}${']'.repeat(10000)}`);
  put('server', 'deep-object.json', `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`);
  put(
    'server',
    'huge-number.json',
    '{"n":1e999999,"m":-1e999999,"i":123456789012345678901234567890123456789}',
  );
  put('server', 'invalid-utf8.json', Buffer.concat([Buffer.from('{"s":"'), INVALID_UTF8, Buffer.from('"}')]));
  put('server', 'truncated.json', '{"a":[1,2,');
  put('server', 'not-json.json', 'not json at all');
  put('server', 'empty.json', '');
  put('server', 'duplicate-keys.json', '{"a":1,"a":2,"__proto__":1}');
}

// ---------------------------------------------------------------- YAML size cap (yaml-limits.ts)
function yamlSizeCorpus(): void {
  // One byte over MAX_YAML_BYTES (128 KiB), as a dense flow list: refused before parsing.
  const over = 128 * 1024 + 1;
  const list = `x: [${'1,'.repeat(Math.floor((over - 7) / 2))}1]\n`;
  const text = list + ' '.repeat(over - list.length);
  for (const parser of ['config', 'policy', 'ceremony'])
    put(`yaml-size/${parser}`, 'over-cap-flow-list.yaml', text);
}

csrCorpus();
ocspCorpus();
uriCorpus();
configCorpus();
policyCorpus();
keyRequestCorpus();
auditCorpus();
ipcCorpus();
serverCorpus();
yamlSizeCorpus();
console.log(`corpus written to ${ROOT}`);
