/**
 * The CLI's capability cache, end to end: the CLI run from source (`node --import tsx
 * src/cli/run.ts`) in a temporary HSMKIT_HOME made by `hsmkit init --dev` (a real SoftHSM2 token).
 * The first `hsm info` probes and leaves a 0600 file under `$HSMKIT_HOME/cache/capabilities`
 * (0700); the next run reuses it and says so; `performance.capability_cache.enabled: false` probes
 * every time and writes nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { type CliResult, runCli } from '../../support/cli.js';

interface InfoJson {
  probe: { source?: string; probedAt?: string; fingerprint?: string };
}

let home: string;
let pins: string[] = [];

function cli(...args: string[]): Promise<CliResult> {
  return runCli(args, { env: { HSMKIT_HOME: home }, unsetEnv: ['HSMKIT_CONFIG'], timeoutMs: 60_000 });
}

/** A result for assertion messages, PINs redacted. */
function fmt(r: CliResult): string {
  let out = `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  for (const pin of pins) out = out.split(pin).join('[pin]');
  return out;
}

async function info(): Promise<InfoJson> {
  const r = await cli('hsm', 'info', '--json');
  assert.equal(r.code, 0, fmt(r));
  const [report] = JSON.parse(r.stdout) as InfoJson[];
  assert.ok(report, fmt(r));
  return report;
}

const cacheDir = () => join(home, 'cache', 'capabilities');

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'hsmkit-cli-capcache-'));
  const r = await cli('init', '--dev', '--json');
  assert.equal(r.code, 0, fmt(r));
  pins = ['user-pin', 'so-pin'].map((f) => readFileSync(join(home, 'secrets', f), 'utf8').trim());
});

after(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('CLI capability cache', () => {
  it('probes on the first run, reuses the probe on the next and says so', async () => {
    const first = await info();
    assert.equal(first.probe.source, 'probed');
    assert.equal(statSync(cacheDir()).mode & 0o777, 0o700);
    const files = readdirSync(cacheDir());
    assert.deepEqual(files, [`${first.probe.fingerprint}.json`]);
    const file = join(cacheDir(), files[0]!);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    for (const pin of pins) assert.ok(!text.includes(pin), 'a PIN is in the cache file');

    const second = await info();
    assert.equal(second.probe.source, 'cached');
    assert.equal(second.probe.probedAt, first.probe.probedAt);

    const human = await cli('hsm', 'info');
    assert.equal(human.code, 0, fmt(human));
    assert.match(human.stdout, new RegExp(`capability probe\\s+cached \\(probed ${first.probe.probedAt}\\)`));
  });

  it('with capability_cache.enabled false, probes every run and writes no file', async () => {
    const configFile = join(home, 'hsmkit.yaml');
    const config = parseYaml(readFileSync(configFile, 'utf8')) as Record<string, Record<string, unknown>>;
    const hsm = config.hsm_configuration!;
    hsm.performance = {
      ...((hsm.performance as Record<string, unknown>) ?? {}),
      capability_cache: { enabled: false },
    };
    writeFileSync(configFile, stringifyYaml(config));
    rmSync(join(home, 'cache'), { recursive: true, force: true });
    for (let i = 0; i < 2; i++) assert.equal((await info()).probe.source, 'probed');
    assert.ok(!existsSync(cacheDir()), 'a cache directory was written although the cache is off');
  });
});
