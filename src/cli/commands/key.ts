import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import type { KeyInfo } from '../../kms/key-info.js';
import { parseKeyType } from '../../kms/key-spec.js';
import type { CreateKeyRequest, KeyMetadata } from '../../kms/requests.js';
import { withContext } from '../context.js';
import { assertWritable, readInput, writeOutput } from '../files.js';
import { parseKeyRequest } from '../key-request.js';
import { emit, type GlobalOptions, required, table } from '../output.js';
import * as remote from '../remote/keys.js';
import { collect } from '../repeatable.js';

const META_FIELDS: Record<string, keyof Omit<KeyMetadata, 'tags'>> = {
  purpose: 'purpose',
  owner: 'owner',
  expires: 'expiresAt',
  expiry: 'expiresAt',
  expiry_date: 'expiresAt',
  ceremony: 'ceremonyId',
  ceremony_id: 'ceremonyId',
};

/** Parses repeated `--meta k=v`: purpose/owner/expires/ceremony go to their fields, the rest are tags. */
export function parseMeta(pairs: string[]): KeyMetadata | undefined {
  if (pairs.length === 0) return undefined;
  const meta: KeyMetadata = {};
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw new HsmError('HSM_ERR_INVALID_INPUT', `--meta takes key=value, got "${pair.slice(0, 64)}"`);
    const k = pair.slice(0, eq).trim();
    const v = pair.slice(eq + 1);
    const field = META_FIELDS[k];
    if (field) meta[field] = v;
    else tags[k] = v;
  }
  if (Object.keys(tags).length > 0) meta.tags = tags;
  return meta;
}

/** A key as the text output shows it (local and remote). */
export function describeKey(k: KeyInfo): string {
  const a = k.attributes;
  const flags = Object.entries(a)
    .filter(([, v]) => v)
    .map(([n]) => n)
    .join(', ');
  return table([
    ['label', k.label],
    ['type', k.type],
    ['id', k.id],
    ['uri', k.uri],
    ['token', k.token],
    ['member', k.member],
    ['attributes', flags],
    ['purpose', k.metadata?.purpose],
    ['owner', k.metadata?.owner],
    ['expires', k.metadata?.expiresAt],
    ['ceremony', k.metadata?.ceremonyId],
    ['tags', k.metadata?.tags && Object.keys(k.metadata.tags).length ? k.metadata.tags : undefined],
    ['status', k.metadata?.status],
  ]);
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** `hsmkit key …`: generate, list, show, public, delete. */
export function registerKey(program: Command, globals: () => GlobalOptions): void {
  const key = program
    .command('key')
    .description('HSM keys: generate, list, show, export the public key, delete');

  key
    .command('generate')
    .description('generate a key pair inside the HSM (non-extractable, sensitive, token object)')
    .option(
      '--type <type>',
      'rsa-2048|rsa-3072|rsa-4096|rsa-8192|ec-p256|ec-p384|ec-p521|ed25519|ed448|ml-dsa-65|…',
    )
    .option('--label <label>', 'CKA_LABEL; must be unique on the token')
    .option(
      '--meta <k=v>',
      'metadata: purpose=, owner=, expires=, ceremony=; other keys become tags',
      collect,
      [],
    )
    .option('--request <file>', 'a Key Generation Request JSON file instead of --type/--label')
    .action(async (o: { type?: string; label?: string; meta: string[]; request?: string }) => {
      if (globals().server)
        return remote.generateKey(globals(), { ...o, meta: parseMeta(o.meta) }, describeKey);
      let req: CreateKeyRequest;
      if (o.request !== undefined) {
        if (o.type !== undefined || o.label !== undefined) {
          throw new HsmError('HSM_ERR_INVALID_INPUT', '--request cannot be combined with --type or --label');
        }
        req = parseKeyRequest(readInput(o.request).toString('utf8'));
        const extra = parseMeta(o.meta);
        if (extra)
          req.metadata = { ...req.metadata, ...extra, tags: { ...req.metadata?.tags, ...extra.tags } };
      } else {
        const spec = parseKeyType(required(o.type, '--type'));
        req = { label: required(o.label, '--label'), type: spec.type };
        const meta = parseMeta(o.meta);
        if (meta) req.metadata = meta;
      }
      const started = performance.now();
      const info = await withContext(globals(), (ctx) => ctx.km.createKey(req));
      const seconds = (performance.now() - started) / 1000;
      emit(
        globals(),
        { ...info, seconds },
        () =>
          `Generated ${info.type} key "${info.label}" in the HSM (${seconds.toFixed(2)} s).\n${describeKey(info)}`,
      );
    });

  key
    .command('list')
    .description('list the key pairs on the token')
    .option('--prefix <p>', 'only labels starting with this')
    .action(async (o: { prefix?: string }) => {
      if (globals().server) return remote.listKeys(globals(), o);
      const keys = await withContext(globals(), (ctx) =>
        ctx.km.listKeys(o.prefix ? { labelPrefix: o.prefix } : {}),
      );
      emit(globals(), keys, () =>
        keys.length === 0
          ? 'No keys.'
          : keys.map((k) => `${k.label.padEnd(32)} ${k.type.padEnd(10)} ${k.id}`).join('\n'),
      );
    });

  key
    .command('show')
    .argument('<key>', 'label or PKCS#11 URI')
    .description('show a key: type, URI, attributes read from the token, metadata')
    .action(async (ref: string) => {
      if (globals().server) return remote.showKey(globals(), ref, describeKey);
      const info = await withContext(globals(), (ctx) => ctx.km.getKey(ref));
      emit(globals(), info, () => describeKey(info));
    });

  key
    .command('public')
    .argument('<key>', 'label or PKCS#11 URI')
    .description('write the public key (SubjectPublicKeyInfo, PEM)')
    .option('--out <file>', 'output file (default: stdout)')
    .option('--force', 'overwrite an existing file')
    .action(async (ref: string, o: { out?: string; force?: boolean }) => {
      if (globals().server) return remote.publicKey(globals(), ref, o);
      if (o.out !== undefined) assertWritable(o.out, o.force);
      const info = await withContext(globals(), (ctx) => ctx.km.getKey(ref));
      if (o.out === undefined) {
        if (globals().json)
          emit(globals(), { label: info.label, uri: info.uri, publicKeyPem: info.publicKeyPem }, () => '');
        else process.stdout.write(info.publicKeyPem);
        return;
      }
      writeOutput(o.out, info.publicKeyPem, o.force);
      emit(
        globals(),
        { label: info.label, uri: info.uri, out: o.out },
        () => `Wrote the public key of "${info.label}" to ${o.out}`,
      );
    });

  key
    .command('delete')
    .argument('<key>', 'label or PKCS#11 URI')
    .description('destroy both halves of a key pair in the HSM and its metadata (irreversible)')
    .option('--yes', 'do not ask for confirmation')
    .action(async (ref: string, o: { yes?: boolean }) => {
      if (!o.yes) {
        if (!process.stdin.isTTY)
          throw new HsmError(
            'HSM_ERR_INVALID_INPUT',
            'deleting a key is irreversible: pass --yes to confirm',
          );
        if (!(await confirm(`Destroy key "${ref}" in the HSM? This cannot be undone. [y/N] `))) {
          throw new HsmError('HSM_ERR_INVALID_INPUT', 'not confirmed; nothing was deleted');
        }
      }
      if (globals().server) return remote.deleteKey(globals(), ref);
      const info = await withContext(globals(), async (ctx) => {
        const k = await ctx.km.getKey(ref);
        await ctx.km.deleteKey(k.uri);
        return k;
      });
      emit(
        globals(),
        { deleted: info.uri, label: info.label },
        () => `Deleted key "${info.label}" (${info.uri}).`,
      );
    });
}
