import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { describe, it } from 'node:test';
import { hsmkitPaths } from './home.js';

describe('hsmkitPaths', () => {
  it('defaults to ~/.hsmkit', () => {
    const paths = hsmkitPaths({});
    assert.equal(paths.home, join(homedir(), '.hsmkit'));
    assert.equal(paths.configFile, join(homedir(), '.hsmkit', 'hsmkit.yaml'));
  });

  it('uses HSMKIT_HOME and builds every path under it', () => {
    const paths = hsmkitPaths({ HSMKIT_HOME: '/srv/hsmkit' });
    assert.deepEqual(paths, {
      home: '/srv/hsmkit',
      configFile: '/srv/hsmkit/hsmkit.yaml',
      database: '/srv/hsmkit/hsmkit.db',
      tokensDir: '/srv/hsmkit/tokens',
      secretsDir: '/srv/hsmkit/secrets',
      soPinFile: '/srv/hsmkit/secrets/so-pin',
      userPinFile: '/srv/hsmkit/secrets/user-pin',
      softhsmConf: '/srv/hsmkit/softhsm2.conf',
      capabilityCacheDir: '/srv/hsmkit/cache/capabilities',
    });
  });

  it('makes a relative HSMKIT_HOME absolute and treats an empty one as unset', () => {
    for (const p of Object.values(hsmkitPaths({ HSMKIT_HOME: 'rel/home' }))) assert.ok(isAbsolute(p), p);
    assert.equal(hsmkitPaths({ HSMKIT_HOME: '' }).home, join(homedir(), '.hsmkit'));
  });
});
