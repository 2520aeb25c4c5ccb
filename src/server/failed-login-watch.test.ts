import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailedLoginWatch } from './failed-login-watch.js';

describe('FailedLoginWatch', () => {
  it('reports an actor from its third failure within the window, and counts per actor', () => {
    let t = 0;
    const w = new FailedLoginWatch(3, 60_000, 100, () => t);
    assert.equal(w.record('alice'), undefined);
    assert.equal(w.record('bob'), undefined);
    assert.equal(w.record('alice'), undefined);
    t = 1000;
    assert.equal(w.record('alice'), 3);
    assert.equal(w.record('alice'), 4);
    assert.equal(w.record('bob'), undefined);
  });

  it('forgets failures older than the window', () => {
    let t = 0;
    const w = new FailedLoginWatch(3, 60_000, 100, () => t);
    w.record('alice');
    w.record('alice');
    t = 60_000;
    assert.equal(w.record('alice'), undefined);
    t = 60_001;
    assert.equal(w.record('alice'), undefined);
    assert.equal(w.record('alice'), 3);
  });

  it('stays bounded: past maxActors the least recent actor is dropped', () => {
    const w = new FailedLoginWatch(2, 60_000, 2, () => 0);
    w.record('a');
    w.record('b');
    w.record('c'); // drops a
    assert.equal(w.record('a'), undefined, 'a starts again from one');
    assert.equal(w.record('c'), 2);
  });
});
