import type { Pkcs11KeyManager } from '../adapters/pkcs11/pkcs11-key-manager.js';
import type { KeyType } from '../kms/key-spec.js';
import type { CBaseline } from './c-baseline.js';
import { median, pct, ratio, round } from './stats.js';

/** Summary of keygen samples, in seconds. */
export interface KeygenStats {
  samplesSeconds: number[];
  p50: number;
  p90: number;
  max: number;
}

/** Key generation of one type: hsmkit, and the C baseline where it has one (RSA). */
export interface KeygenFigure {
  type: KeyType;
  hsmkit: KeygenStats;
  c: KeygenStats | null;
  p50Ratio: number | null;
}

const stats = (x: number[]): KeygenStats => ({
  samplesSeconds: x.map((v) => round(v, 3)),
  p50: round(median(x), 3),
  p90: round(pct(x, 0.9), 3),
  max: round(Math.max(...x), 3),
});

/**
 * `samples` key generations through `km.createKey` (each key deleted afterwards). For RSA the C
 * baseline's C_GenerateKeyPair runs alternately with hsmkit's, or at the same time when `parallel`
 * (the quick run: RSA keygen is one core each, and the machine has two).
 */
export async function keygenFigure(
  km: Pkcs11KeyManager,
  c: CBaseline,
  type: KeyType,
  samples: number,
  log: (m: string) => void,
  parallel = false,
): Promise<KeygenFigure> {
  const bits = /^rsa-(\d+)$/.exec(type)?.[1];
  const h: number[] = [];
  const cs: number[] = [];
  const one = async (i: number) => {
    const t = performance.now();
    const info = await km.createKey({ label: `bench-keygen-${type}-${i}`, type });
    h.push((performance.now() - t) / 1000);
    await km.deleteKey(info.uri);
  };
  for (let i = 0; i < samples; i++) {
    log(`keygen ${type} ${i + 1}/${samples}`);
    if (bits && parallel) {
      await Promise.all([c.keygenRsa(Number(bits)).then((s) => cs.push(s)), one(i)]);
    } else {
      if (bits) cs.push(await c.keygenRsa(Number(bits)));
      await one(i);
    }
  }
  return {
    type,
    hsmkit: stats(h),
    c: bits ? stats(cs) : null,
    p50Ratio: bits ? ratio(median(h), median(cs)) : null,
  };
}
