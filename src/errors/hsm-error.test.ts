import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CKR, CKR_VALUES, CKR_VENDOR_DEFINED, ckrName, codeForCkr } from './ckr.js';
import { ALL_ERROR_CODES, ERROR_CODES, type ErrorCode } from './codes.js';
import { HsmError, type HsmErrorJson, toHsmError } from './hsm-error.js';

describe('HsmError', () => {
  it('takes status and retryable from the code table, for every code', () => {
    for (const code of ALL_ERROR_CODES) {
      const err = new HsmError(code, 'x');
      assert.equal(err.code, code);
      assert.equal(err.status, ERROR_CODES[code].status, code);
      assert.equal(err.retryable, ERROR_CODES[code].retryable, code);
    }
  });

  it('is an Error named HsmError', () => {
    const err = new HsmError('HSM_ERR_KEY_NOT_FOUND', 'no key');
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'HsmError');
    assert.equal(err.message, 'no key');
  });

  it('keeps ckr, member and details, and leaves them undefined when not given', () => {
    const err = new HsmError('HSM_ERR_AUTH', 'refused', {
      ckr: CKR_VALUES.PIN_INCORRECT,
      member: 'hsm-a',
      details: { path: 'members[0].pin' },
    });
    assert.equal(err.ckr, 0xa0);
    assert.equal(err.member, 'hsm-a');
    assert.deepEqual(err.details, { path: 'members[0].pin' });

    const bare = new HsmError('HSM_ERR_INTERNAL', 'x');
    assert.equal(bare.ckr, undefined);
    assert.equal(bare.member, undefined);
    assert.equal(bare.details, undefined);
  });

  it('keeps cause, and has no own cause when none is given', () => {
    const cause = new Error('underlying');
    assert.equal(new HsmError('HSM_ERR_STORE', 'x', { cause }).cause, cause);
    assert.equal(new HsmError('HSM_ERR_STORE', 'x', { cause: 'a string' }).cause, 'a string');
    assert.equal(Object.hasOwn(new HsmError('HSM_ERR_STORE', 'x'), 'cause'), false);
  });

  describe('toJSON / fromJSON', () => {
    it('round-trips code, message, ckr, member and details', () => {
      const err = new HsmError('HSM_ERR_DEVICE', 'C_Sign failed', {
        ckr: CKR_VALUES.DEVICE_ERROR,
        member: 'hsm-b',
        details: { slot: 3 },
      });
      const json = err.toJSON();
      assert.deepEqual(json, {
        code: 'HSM_ERR_DEVICE',
        message: 'C_Sign failed',
        retryable: true,
        ckr: 0x30,
        member: 'hsm-b',
        details: { slot: 3 },
      });
      // The IPC protocol and HTTP API send the JSON as text.
      const back = HsmError.fromJSON(JSON.parse(JSON.stringify(err)) as HsmErrorJson);
      assert.ok(back instanceof HsmError);
      assert.equal(back.code, err.code);
      assert.equal(back.message, err.message);
      assert.equal(back.ckr, err.ckr);
      assert.equal(back.member, err.member);
      assert.deepEqual(back.details, err.details);
      assert.equal(back.status, err.status);
      assert.equal(back.retryable, err.retryable);
      assert.deepEqual(back.toJSON(), json);
    });

    it('leaves out fields that are not set, and never carries the cause', () => {
      const json = new HsmError('HSM_ERR_POLICY', 'no', { cause: new Error('secret-ish') }).toJSON();
      assert.deepEqual(json, { code: 'HSM_ERR_POLICY', message: 'no', retryable: false });
      assert.equal(HsmError.fromJSON(json).ckr, undefined);
    });

    it('round-trips every code', () => {
      for (const code of ALL_ERROR_CODES) {
        assert.equal(HsmError.fromJSON(new HsmError(code, 'm').toJSON()).code, code);
      }
    });

    it('turns an unknown code into HSM_ERR_INTERNAL, keeping the message', () => {
      for (const code of ['HSM_ERR_FROM_THE_FUTURE', '', 'toString']) {
        const err = HsmError.fromJSON({ code, message: 'from a newer member', ckr: 5 });
        assert.equal(err.code, 'HSM_ERR_INTERNAL', code);
        assert.equal(err.message, 'from a newer member');
        assert.equal(err.ckr, 5);
      }
    });

    it('takes retryable from the code, not from the JSON', () => {
      const err = HsmError.fromJSON({ code: 'HSM_ERR_AUTH', message: 'x', retryable: true });
      assert.equal(err.retryable, false);
    });
  });

  describe('HsmError.is', () => {
    const err = new HsmError('HSM_ERR_KEY_NOT_FOUND', 'x');

    it('without codes: true for any HsmError, false for anything else', () => {
      assert.equal(HsmError.is(err), true);
      for (const other of [
        new Error('x'),
        { code: 'HSM_ERR_KEY_NOT_FOUND' },
        'HSM_ERR_KEY_NOT_FOUND',
        null,
        undefined,
      ]) {
        assert.equal(HsmError.is(other), false, String(other));
      }
    });

    it('with codes: true only when the code is one of them', () => {
      assert.equal(HsmError.is(err, 'HSM_ERR_KEY_NOT_FOUND'), true);
      assert.equal(HsmError.is(err, 'HSM_ERR_KEY_AMBIGUOUS', 'HSM_ERR_KEY_NOT_FOUND'), true);
      assert.equal(HsmError.is(err, 'HSM_ERR_KEY_AMBIGUOUS'), false);
      assert.equal(HsmError.is(new Error('x'), 'HSM_ERR_INTERNAL'), false);
    });
  });

  describe('toHsmError', () => {
    it('passes an HsmError through unchanged', () => {
      const err = new HsmError('HSM_ERR_TIMEOUT', 'slow');
      assert.equal(toHsmError(err), err);
      assert.equal(toHsmError(err, 'HSM_ERR_STORE'), err);
    });

    it('wraps an Error as HSM_ERR_INTERNAL, keeping its message and the error as cause', () => {
      const cause = new TypeError('boom');
      const err = toHsmError(cause);
      assert.equal(err.code, 'HSM_ERR_INTERNAL');
      assert.equal(err.message, 'boom');
      assert.equal(err.cause, cause);
    });

    it('uses the fallback code when given', () => {
      const cause = new Error('disk I/O error');
      const err = toHsmError(cause, 'HSM_ERR_STORE');
      assert.equal(err.code, 'HSM_ERR_STORE');
      assert.equal(err.cause, cause);
    });

    it('wraps a thrown non-Error value', () => {
      const err = toHsmError('plain string');
      assert.equal(err.code, 'HSM_ERR_INTERNAL');
      assert.equal(err.message, 'plain string');
      assert.equal(err.cause, 'plain string');
    });
  });
});

describe('CKR table (ckr.ts)', () => {
  const VENDOR_VALUE = 0x80000001;
  const UNKNOWN_VALUE = 0x04; // not assigned in PKCS#11

  const cases: Array<{ name: string; rv: number; code: ErrorCode; retryable: boolean }> = [
    { name: 'CKR_PIN_INCORRECT', rv: 0xa0, code: 'HSM_ERR_AUTH', retryable: false },
    { name: 'CKR_PIN_LOCKED', rv: CKR_VALUES.PIN_LOCKED, code: 'HSM_ERR_PIN_LOCKED', retryable: false },
    { name: 'CKR_OBJECT_HANDLE_INVALID', rv: 0x82, code: 'HSM_ERR_KEY_NOT_FOUND', retryable: false },
    { name: 'CKR_KEY_HANDLE_INVALID', rv: 0x60, code: 'HSM_ERR_KEY_NOT_FOUND', retryable: false },
    { name: 'CKR_DEVICE_ERROR', rv: CKR_VALUES.DEVICE_ERROR, code: 'HSM_ERR_DEVICE', retryable: true },
    {
      name: 'CKR_MECHANISM_INVALID',
      rv: CKR_VALUES.MECHANISM_INVALID,
      code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
      retryable: false,
    },
    { name: 'CKR_USER_NOT_LOGGED_IN', rv: 0x101, code: 'HSM_ERR_NOT_LOGGED_IN', retryable: true },
    { name: 'CKR_SESSION_HANDLE_INVALID', rv: 0xb3, code: 'HSM_ERR_SESSION', retryable: true },
    { name: 'CKR_GENERAL_ERROR', rv: 0x05, code: 'HSM_ERR_INTERNAL', retryable: false },
    { name: 'an unknown value', rv: UNKNOWN_VALUE, code: 'HSM_ERR_INTERNAL', retryable: false },
    { name: 'a vendor-defined value', rv: VENDOR_VALUE, code: 'HSM_ERR_INTERNAL', retryable: false },
    { name: 'CKR_VENDOR_DEFINED itself', rv: CKR_VENDOR_DEFINED, code: 'HSM_ERR_INTERNAL', retryable: false },
  ];
  for (const { name, rv, code, retryable } of cases) {
    it(`codeForCkr: ${name} → ${code}`, () => {
      assert.equal(codeForCkr(rv), code);
      assert.equal(ERROR_CODES[codeForCkr(rv)].retryable, retryable);
    });
  }

  it('codeForCkr agrees with the table for every entry', () => {
    for (const [key, entry] of Object.entries(CKR))
      assert.equal(codeForCkr(Number(key)), entry.code, entry.name);
  });

  it('ckrName: known values by name, unknown as CKR_0x…, vendor values as CKR_VENDOR_DEFINED(0x…)', () => {
    assert.equal(ckrName(0xa0), 'CKR_PIN_INCORRECT');
    assert.equal(ckrName(0x00), 'CKR_OK');
    assert.equal(ckrName(UNKNOWN_VALUE), 'CKR_0x00000004');
    assert.equal(ckrName(0x7fffffff), 'CKR_0x7FFFFFFF');
    assert.equal(ckrName(VENDOR_VALUE), 'CKR_VENDOR_DEFINED(0x80000001)');
    assert.equal(ckrName(CKR_VENDOR_DEFINED), 'CKR_VENDOR_DEFINED(0x80000000)');
  });

  it('gives every CKR_VALUES constant the entry of the same name', () => {
    for (const [short, rv] of Object.entries(CKR_VALUES)) assert.equal(ckrName(rv), `CKR_${short}`);
  });

  it('names every entry CKR_ and no two entries alike', () => {
    const names = Object.values(CKR).map((entry) => entry.name);
    for (const name of names) assert.match(name, /^CKR_[A-Z0-9_]+$/);
    const dupes = names.filter((name, i) => names.indexOf(name) !== i);
    assert.deepEqual(dupes, [], 'CKR names used twice');
  });

  it('keys the table by standard (non-vendor) values that map to real codes', () => {
    for (const [key, entry] of Object.entries(CKR)) {
      const rv = Number(key);
      assert.ok(Number.isInteger(rv) && rv >= 0 && rv < CKR_VENDOR_DEFINED, `${entry.name}: key ${key}`);
      assert.ok(Object.hasOwn(ERROR_CODES, entry.code), `${entry.name}: ${entry.code}`);
    }
  });
});
