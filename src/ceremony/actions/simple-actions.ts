import { readFileSync } from 'node:fs';
import { spkiToPem } from '../../crypto/public-key.js';
import { HsmError } from '../../errors/index.js';
import { generateCrl } from '../../pki/crl.js';
import { toPem } from '../../pki/pem.js';
import { parseValidity } from '../../pki/validity.js';
import type { ActionParams } from '../script-schema.js';
import { type ShareBundle, splitSecret, withReconstructedSecret } from '../secret-sharing.js';
import { keyFacts, type StepContext, type StepResult, sha256Hex, writeOutputOnce } from './step-context.js';

/** Signs a CRL for a CA; the signed CRL is kept in the progress so a resume writes the same one. */
export async function signCrl(ctx: StepContext, p: ActionParams['sign-crl']): Promise<StepResult> {
  let pem = typeof ctx.progress.crlPem === 'string' ? ctx.progress.crlPem : undefined;
  let number = ctx.progress.crlNumber as number | undefined;
  if (pem === undefined) {
    const r = await generateCrl(ctx.pki, p.ca, parseValidity(p.validity));
    pem = toPem(new Uint8Array(r.crl.rawData), 'X509 CRL');
    number = r.number;
    await ctx.saveProgress({ crlPem: pem, crlNumber: number });
  }
  const out = writeOutputOnce(ctx.script.path(p.output), pem);
  return { outputs: [out], keys: [], details: { ca: p.ca, crlNumber: number } };
}

/** Writes a key's public half (PEM SPKI), read from the HSM. */
export async function exportPublicKey(
  ctx: StepContext,
  p: ActionParams['export-public-key'],
): Promise<StepResult> {
  const facts = await keyFacts(ctx.km, p.key);
  const pem = spkiToPem(await ctx.km.getPublicKey(facts.uri));
  const out = writeOutputOnce(ctx.script.path(p.output), pem);
  return { outputs: [out], keys: [facts], details: { key: facts.uri } };
}

/**
 * Makes a random secret with the HSM's RNG, splits it M-of-N (each share encrypted to one
 * custodian's registered key, every subset verified), writes the bundle and zeroes the secret.
 * The bundle's hash is persisted before writing, so a resume accepts the file it wrote.
 */
export async function splitSecretStep(
  ctx: StepContext,
  p: ActionParams['split-secret'],
): Promise<StepResult> {
  const path = ctx.script.path(p.output);
  let text = typeof ctx.progress.bundle === 'string' ? ctx.progress.bundle : undefined;
  if (text === undefined) {
    const registered = await ctx.ceremonies.listCustodians();
    const recipients = p.custodians.map((c) => {
      const r = registered.find((x) => x.name === c);
      if (!r) throw new HsmError('HSM_ERR_INVALID_INPUT', `custodian "${c}" is not registered`);
      return { custodian: c, publicKeyPem: r.publicKeyPem };
    });
    const secret = await ctx.km.generateRandom(p.bytes);
    try {
      const bundle = await splitSecret(secret, p.threshold, recipients, {
        ceremonyId: ctx.ceremonyId,
        name: p.name,
      });
      text = `${JSON.stringify(bundle, null, 2)}\n`;
    } finally {
      secret.fill(0);
    }
    // The bundle holds only encrypted shares: safe to keep as the resume point.
    await ctx.saveProgress({ bundle: text });
  }
  const out = writeOutputOnce(path, text);
  return {
    outputs: [out],
    keys: [],
    details: { name: p.name, threshold: p.threshold, total: p.custodians.length },
  };
}

/**
 * Reconstructs a split secret in memory from the custodians' decrypters, checks it against the
 * bundle and wipes it. The backup work plugs its use of the secret in here.
 */
export async function reconstructSecretStep(
  ctx: StepContext,
  p: ActionParams['reconstruct-secret'],
): Promise<StepResult> {
  const raw = readFileSync(ctx.script.path(p.bundle));
  const bundle = JSON.parse(raw.toString('utf8')) as ShareBundle;
  if (!ctx.decrypters || ctx.decrypters.length === 0) {
    throw new HsmError(
      'HSM_ERR_NOT_SUPPORTED',
      'reconstruct-secret needs custodian share decrypters; the CLI cannot decrypt on custodian tokens yet',
    );
  }
  const used = await withReconstructedSecret(bundle, ctx.decrypters, async (secret) => secret.length);
  return {
    outputs: [],
    keys: [],
    details: {
      name: bundle.name,
      bundleSha256: sha256Hex(raw),
      sharesUsed: ctx.decrypters.length,
      secretBytes: used,
    },
  };
}
