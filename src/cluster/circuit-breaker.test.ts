import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker } from './circuit-breaker.js';

describe('CircuitBreaker', () => {
  it('opens after the threshold of consecutive failures, not before', () => {
    let t = 0;
    const b = new CircuitBreaker({ failureThreshold: 3, openMs: 100 }, () => t);
    assert.equal(b.failure(), false);
    assert.equal(b.failure(), false);
    assert.equal(b.allow(), true);
    assert.equal(b.failure(), true);
    assert.equal(b.state, 'open');
    assert.equal(b.allow(), false);
    t = 99;
    assert.equal(b.allow(), false);
  });

  it('a success in between resets the count', () => {
    const b = new CircuitBreaker({ failureThreshold: 2 });
    b.failure();
    b.success();
    assert.equal(b.failure(), false);
    assert.equal(b.state, 'closed');
  });

  it('lets exactly one probe through when half-open; success closes', () => {
    let t = 0;
    const b = new CircuitBreaker({ failureThreshold: 1, openMs: 100 }, () => t);
    b.failure();
    t = 100;
    assert.equal(b.state, 'half-open');
    assert.equal(b.allow(), true);
    assert.equal(b.allow(), false, 'second concurrent probe refused');
    assert.equal(b.success(), true);
    assert.equal(b.state, 'closed');
    assert.equal(b.allow(), true);
  });

  it('a failed probe reopens with a doubled period, capped', () => {
    let t = 0;
    const b = new CircuitBreaker({ failureThreshold: 1, openMs: 100, maxOpenMs: 300 }, () => t);
    b.failure();
    t = 100;
    assert.ok(b.allow());
    b.failure();
    assert.equal(b.state, 'open');
    t = 299;
    assert.equal(b.state, 'open', 'period doubled to 200');
    t = 300;
    assert.equal(b.state, 'half-open');
    assert.ok(b.allow());
    b.failure();
    t = 300 + 299;
    assert.equal(b.state, 'open');
    t = 300 + 300;
    assert.equal(b.state, 'half-open', 'capped at maxOpenMs');
  });

  it('trip() opens at once', () => {
    const b = new CircuitBreaker();
    b.trip();
    assert.equal(b.state, 'open');
    assert.equal(b.allow(), false);
  });
});
