import assert from 'node:assert/strict';
import { it } from 'node:test';
import * as curves from './curves.js';
import * as der from './der.js';
import * as digestInfo from './digest-info.js';
import * as ecPoint from './ec-point.js';
import * as ecdsa from './ecdsa-signature.js';
import * as index from './index.js';
import * as publicKey from './public-key.js';

it('index.ts re-exports every runtime export of src/crypto', () => {
  const modules = [curves, der, digestInfo, ecPoint, ecdsa, publicKey];
  const expected = modules.flatMap((m) => Object.keys(m)).sort();
  assert.deepEqual(Object.keys(index).sort(), expected);
});
