import type { CeremonyStep } from '../script-loader.js';
import { createCa } from './create-ca.js';
import { generateKey } from './generate-key.js';
import { exportPublicKey, reconstructSecretStep, signCrl, splitSecretStep } from './simple-actions.js';
import type { StepContext, StepResult } from './step-context.js';

export * from './step-context.js';

/** Runs one step's action. */
export function runAction(ctx: StepContext, step: CeremonyStep): Promise<StepResult> {
  switch (step.action) {
    case 'generate-key':
      return generateKey(ctx, step.params);
    case 'create-root-ca':
      return createCa(ctx, step.params);
    case 'create-intermediate-ca':
      return createCa(ctx, step.params);
    case 'sign-crl':
      return signCrl(ctx, step.params);
    case 'export-public-key':
      return exportPublicKey(ctx, step.params);
    case 'split-secret':
      return splitSecretStep(ctx, step.params);
    case 'reconstruct-secret':
      return reconstructSecretStep(ctx, step.params);
  }
}
