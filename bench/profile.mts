/**
 * CPU profile of the library hot path: P-256 signing from 64 callers through a member with 2 host
 * processes for a few seconds, with `--cpu-prof` in the parent and in each member host. Then prints the top self-time functions of each profile.
 *
 *   node --import tsx bench/profile.mts [--seconds 8] [--key P-256] [--out DIR]
 *
 * The service's profile: `HSMKIT_BENCH_PROFILE_DIR=DIR npm run bench -- --quick`, then
 * `node bench/profile-summary.mjs DIR/*.cpuprofile`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : dflt);
const out = opt('--out', `/tmp/hsmkit-profile-${Date.now()}`);
const seconds = opt('--seconds', '8');
const key = opt('--key', 'P-256');
mkdirSync(out, { recursive: true });
const here = fileURLToPath(new URL('.', import.meta.url));

if (process.env.HSMKIT_PROFILE_CHILD !== '1') {
  // Node refuses --cpu-prof in NODE_OPTIONS: the parent gets it here, the hosts through hsmkit's
  // HSMKIT_MEMBER_HOST_CPU_PROF (src/adapters/pkcs11/host-entry.ts).
  execFileSync(
    process.execPath,
    ['--cpu-prof', '--cpu-prof-dir', out, '--import', 'tsx', join(here, 'profile.mts'), ...argv],
    {
      stdio: 'inherit',
      env: { ...process.env, HSMKIT_PROFILE_CHILD: '1', HSMKIT_MEMBER_HOST_CPU_PROF: out },
    },
  );
  const files = readdirSync(out)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(out, f));
  execFileSync(process.execPath, [join(here, 'profile-summary.mjs'), ...files], { stdio: 'inherit' });
} else {
  const { Pkcs11KeyManager } = await import('../src/adapters/pkcs11/pkcs11-key-manager.js');
  const { createBenchToken } = await import('../src/bench/bench-token.js');
  const { benchKey } = await import('../src/bench/keys.js');
  const { closedLoop } = await import('../src/bench/closed-loop.js');
  const k = benchKey(key);
  const tok = createBenchToken('bench-profile');
  const km = await Pkcs11KeyManager.open(tok.member({ hostProcesses: 2 }));
  try {
    await km.member.allHostsStarted();
    await km.createKey({ label: k.label, type: k.type });
    const r = await closedLoop({
      call: async () => {
        await km.sign(k.request);
        return 1;
      },
      callers: 64,
      warmupMs: 500,
      windowMs: Number(seconds) * 1000,
      pids: () => km.member.hostPids,
    });
    process.stderr.write(
      `${k.name}: ${Math.round(r.opsPerSec)}/s, cores parent ${r.cpu.parent.toFixed(2)}, hosts ${r.cpu.others.map((x) => x.toFixed(2)).join(' + ')}\n`,
    );
  } finally {
    await km.close();
    tok.cleanup();
  }
}
