/**
 * Waits for a new key version to leave PENDING_GENERATION. Cloud HSM generates keys
 * asynchronously; a version cannot sign or show its public key until it is ENABLED.
 */
import { HsmError } from '../../errors/index.js';
import type { KmsVersion } from './kms-client.js';

/** How long to wait for generation. Defaults are in DEFAULT_GENERATION_POLL. */
export interface GenerationPoll {
  /** Reads of the version after the first before giving up. Default 60. */
  maxPolls: number;
  /** Pause between reads, in ms. Default 500 (so about 30 s in all). */
  intervalMs: number;
}

/** The defaults. */
export const DEFAULT_GENERATION_POLL: Readonly<GenerationPoll> = { maxPolls: 60, intervalMs: 500 };

/** Reads the version until it is ENABLED; every other settled state is an error with its code. */
export async function pollUntilEnabled(
  read: () => Promise<KmsVersion>,
  first: KmsVersion,
  poll: GenerationPoll,
  sleep: (ms: number) => Promise<void>,
): Promise<KmsVersion> {
  let version = first;
  for (let polls = 0; ; polls++) {
    switch (version.state) {
      case 'ENABLED':
        return version;
      case 'PENDING_GENERATION':
        break;
      case 'GENERATION_FAILED':
        throw new HsmError('HSM_ERR_INTERNAL', `Cloud HSM failed to generate ${version.name}`, {
          details: { reason: String(version.generationFailureReason ?? '') },
        });
      default:
        throw new HsmError(
          'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED',
          `key version ${version.name} is ${String(version.state)}, not ENABLED`,
        );
    }
    if (polls >= poll.maxPolls) {
      throw new HsmError(
        'HSM_ERR_TIMEOUT',
        `key version ${version.name} is still PENDING_GENERATION after ${polls} polls; ask again later`,
        { details: { polls } },
      );
    }
    await sleep(poll.intervalMs);
    version = await read();
  }
}
