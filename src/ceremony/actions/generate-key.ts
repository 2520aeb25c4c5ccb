import { HsmError } from '../../errors/index.js';
import type { ActionParams } from '../script-schema.js';
import { keyFacts, type StepContext, type StepResult } from './step-context.js';

/**
 * Generates a key in the HSM, idempotently across a crash: the label is checked free, the intent
 * is persisted, the key is generated, and its URI is persisted before the step is reported done.
 * A resumed step that finds the intent looks the key up by label instead of generating again.
 */
export async function generateKey(ctx: StepContext, p: ActionParams['generate-key']): Promise<StepResult> {
  let uri = typeof ctx.progress.keyUri === 'string' ? ctx.progress.keyUri : undefined;
  if (uri === undefined && ctx.progress.generating === p.label) {
    // Killed between the generation and recording its URI: the label was free before, so a key
    // with it now is the one this step made.
    uri = await ctx.km.getKey(p.label).then(
      (k) => k.uri,
      (err: unknown) => {
        if (HsmError.is(err, 'HSM_ERR_KEY_NOT_FOUND')) return undefined;
        throw err;
      },
    );
  } else if (uri === undefined) {
    const taken = await ctx.km.getKey(p.label).then(
      () => true,
      (err: unknown) => {
        if (HsmError.is(err, 'HSM_ERR_KEY_NOT_FOUND')) return false;
        throw err;
      },
    );
    if (taken)
      throw new HsmError(
        'HSM_ERR_KEY_EXISTS',
        `a key labelled "${p.label}" exists already; the ceremony makes its own`,
      );
  }
  if (uri === undefined) {
    await ctx.saveProgress({ generating: p.label });
    const info = await ctx.km.createKey({
      label: p.label,
      type: p.type,
      metadata: { ceremonyId: ctx.ceremonyId, ...(p.purpose === undefined ? {} : { purpose: p.purpose }) },
    });
    uri = info.uri;
  }
  await ctx.saveProgress({ generating: p.label, keyUri: uri });
  const facts = await keyFacts(ctx.km, uri);
  return { outputs: [], keys: [facts], details: { label: p.label, uri, type: facts.type } };
}
