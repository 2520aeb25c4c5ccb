import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../config/load.js';
import { capabilityCacheDir } from './capability-cache.js';

const YAML = 'hsm_configuration: {provider: softhsm2}\n';

describe('capabilityCacheDir', () => {
  it('prefers the configured dir, then HSMKIT_HOME, then the config file folder, then ~/.hsmkit', () => {
    const fromFile = parseConfig(YAML, { baseDir: '/etc/hsmkit', source: '/etc/hsmkit/hsmkit.yaml' });
    const configured = parseConfig(
      'hsm_configuration: {provider: softhsm2, performance: {capability_cache: {dir: c}}}\n',
      { baseDir: '/etc/hsmkit', source: '/etc/hsmkit/hsmkit.yaml' },
    );
    assert.equal(capabilityCacheDir(configured, { HSMKIT_HOME: '/srv/h' }), '/etc/hsmkit/c');
    assert.equal(capabilityCacheDir(fromFile, { HSMKIT_HOME: '/srv/h' }), '/srv/h/cache/capabilities');
    assert.equal(capabilityCacheDir(fromFile, {}), '/etc/hsmkit/cache/capabilities');
    assert.equal(capabilityCacheDir(fromFile, { HSMKIT_HOME: '' }), '/etc/hsmkit/cache/capabilities');
    assert.equal(
      capabilityCacheDir(parseConfig(YAML), {}),
      join(homedir(), '.hsmkit', 'cache', 'capabilities'),
    );
  });
});
