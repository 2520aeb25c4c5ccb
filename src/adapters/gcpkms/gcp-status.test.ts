import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HsmError } from '../../errors/index.js';
import { GRPC_STATUS, toGcpHsmError } from './gcp-status.js';

describe('toGcpHsmError', () => {
  const cases: Array<[status: number, code: string]> = [
    [3, 'HSM_ERR_INVALID_INPUT'],
    [4, 'HSM_ERR_TIMEOUT'],
    [5, 'HSM_ERR_KEY_NOT_FOUND'],
    [6, 'HSM_ERR_KEY_EXISTS'],
    [7, 'HSM_ERR_POLICY'],
    [8, 'HSM_ERR_UNAVAILABLE'],
    [9, 'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED'],
    [12, 'HSM_ERR_NOT_SUPPORTED'],
    [14, 'HSM_ERR_UNAVAILABLE'],
    [15, 'HSM_ERR_INTEGRITY'],
    [16, 'HSM_ERR_AUTH'],
  ];
  for (const [status, code] of cases) {
    it(`maps gRPC ${status} (${GRPC_STATUS[status]!.name}) to ${code}, whatever the message says`, () => {
      const err = Object.assign(new Error('NOT_FOUND quota PERMISSION_DENIED'), { code: status });
      const mapped = toGcpHsmError(err, 'a call');
      assert.equal(mapped.code, code);
      assert.equal(mapped.details?.grpcStatus, status);
    });
  }

  it('covers every non-OK gRPC status 1..16', () => {
    for (let s = 1; s <= 16; s++) assert.ok(GRPC_STATUS[s], `status ${s}`);
  });

  it('maps transport errors by their errno code to HSM_ERR_UNAVAILABLE', () => {
    const err = Object.assign(new Error('x'), { code: 'ECONNRESET' });
    assert.equal(toGcpHsmError(err, 'a call').code, 'HSM_ERR_UNAVAILABLE');
    const nested = new Error('y', { cause: Object.assign(new Error('z'), { code: 'ECONNREFUSED' }) });
    assert.equal(toGcpHsmError(nested, 'a call').code, 'HSM_ERR_UNAVAILABLE');
  });

  it('passes HsmErrors through and makes anything else HSM_ERR_INTERNAL', () => {
    const own = new HsmError('HSM_ERR_INTEGRITY', 'x');
    assert.equal(toGcpHsmError(own, 'a call'), own);
    assert.equal(toGcpHsmError(new TypeError('bug'), 'a call').code, 'HSM_ERR_INTERNAL');
    assert.equal(toGcpHsmError('text', 'a call').code, 'HSM_ERR_INTERNAL');
  });
});
