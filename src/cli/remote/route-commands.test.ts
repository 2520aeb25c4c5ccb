import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import { buildProgram } from '../main.js';
import { commandPath, REMOTE_COMMANDS, refuseLocalOnly, relaxMandatoryForRemote } from './route-commands.js';

function find(program: Command, path: string): Command {
  let c = program;
  for (const name of path.split(' ')) {
    const next = c.commands.find((s) => s.name() === name);
    assert.ok(next, `no command ${path}`);
    c = next;
  }
  return c;
}

describe('route commands', () => {
  it('every remote command exists in the program', () => {
    const program = buildProgram();
    for (const path of REMOTE_COMMANDS) assert.equal(commandPath(find(program, path)), path);
  });

  it('a command without an API route refuses --server, naming itself; without --server it is left alone', () => {
    const init = find(buildProgram(), 'init');
    assert.throws(
      () => refuseLocalOnly({ server: 'https://h:1' }, init),
      (e) => HsmError.is(e, 'HSM_ERR_INVALID_INPUT') && /"hsmkit init"/.test(e.message),
    );
    refuseLocalOnly({}, init);
    refuseLocalOnly({ server: 'https://h:1' }, find(buildProgram(), 'key generate'));
  });

  it('with --server the local form’s mandatory options of remote commands are relaxed, and only theirs', () => {
    const program = buildProgram();
    const out = () => find(program, 'backup create').options.find((o) => o.long === '--out')!;
    const kek = () => find(program, 'totp enrol').options.filter((o) => o.mandatory);
    const kekBefore = kek().length;
    assert.equal(kekBefore, 1, 'totp enrol --out is mandatory');
    relaxMandatoryForRemote({}, program);
    assert.equal(out().mandatory, true);
    relaxMandatoryForRemote({ server: 'https://h:1' }, program);
    assert.equal(out().mandatory, false);
    assert.equal(kek().length, kekBefore);
  });
});
