import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import { checkPolicy } from '../../governance/policy-admin.js';
import { diffPolicies } from '../../policy/policy-diff.js';
import { parsePolicyDocument } from '../../policy/policy-document.js';
import { runPolicyTests } from '../../policy/policy-tests.js';
import { type CliContext, withContext } from '../context.js';
import { readInput } from '../files.js';
import { emit, type GlobalOptions, table } from '../output.js';
import * as remote from '../remote/policy.js';
import { registerPolicyApprove } from './policy-approve.js';

/** `hsmkit policy validate|test|diff|apply|rollback|show`. */
export function registerPolicy(program: Command, globals: () => GlobalOptions): void {
  const policy = program
    .command('policy')
    .description('governance policy: validate, test, diff, apply, roll back, show');

  policy
    .command('validate')
    .argument('<file>', 'policy YAML')
    .description('check a policy document against the schema (no HSM needed)')
    .action(async (file: string) => {
      if (globals().server) return remote.validate(globals(), file);
      const doc = parsePolicyDocument(readInput(file).toString('utf8'), file);
      const out = { valid: true, name: doc.name, tests: doc.tests.length };
      emit(globals(), out, () => `${file}: valid policy "${doc.name}" (${doc.tests.length} test case(s))`);
    });

  policy
    .command('test')
    .argument('<file>', 'policy YAML with a tests: table')
    .description('run the policy against its table of example operations; non-zero exit when one fails')
    .action((file: string) => {
      const doc = parsePolicyDocument(readInput(file).toString('utf8'), file);
      const results = runPolicyTests(doc);
      const failed = results.filter((r) => !r.passed);
      if (failed.length > 0) {
        if (!globals().json) process.stdout.write(`${results.map(line).join('\n')}\n`);
        throw new HsmError(
          'HSM_ERR_INVALID_INPUT',
          `${failed.length} of ${results.length} policy test(s) failed`,
          {
            details: { results },
          },
        );
      }
      emit(
        globals(),
        { passed: results.length, results },
        () => `${results.map(line).join('\n')}\n${results.length} test(s) passed`,
      );
    });

  policy
    .command('diff')
    .argument('<a>', 'policy version number or YAML file')
    .argument('<b>', 'policy version number or YAML file')
    .description('differences between two policies, by YAML path')
    .action(async (a: string, b: string) => {
      const changes = await withContext(globals(), (ctx) =>
        ctx.governance.governor.run({ operation: 'policy.show', params: { a, b } }, async () =>
          diffPolicies(await documentOf(ctx, a), await documentOf(ctx, b)),
        ),
      );
      emit(globals(), changes, () =>
        changes.length === 0
          ? 'No differences.'
          : changes
              .map(
                (c) =>
                  `${c.kind === 'added' ? '+' : c.kind === 'removed' ? '-' : '~'} ${c.path}: ${JSON.stringify(c.before ?? null)} -> ${JSON.stringify(c.after ?? null)}`,
              )
              .join('\n'),
      );
    });

  registerPolicyApprove(policy, globals);

  policy
    .command('apply')
    .argument('<file>', 'policy YAML')
    .option('--approve', 'approve a pending policy (dual control: a different role from the proposer)')
    .description('deploy a policy after it validates and its tests pass')
    .action(async (file: string, o: { approve?: boolean }) => {
      if (globals().server) return remote.apply(globals(), file, o);
      const text = readInput(file).toString('utf8');
      checkPolicy(text, file); // before the HSM is touched
      const out = await withContext(globals(), (ctx) =>
        ctx.governance.admin.apply(text, file, o.approve ?? false),
      );
      const v = out.version;
      emit(
        globals(),
        { status: out.status, version: v.version, hash: v.hash, author: v.author, tests: out.tests.length },
        () =>
          out.status === 'active'
            ? `Policy version ${v.version} is active (sha256 ${v.hash}).`
            : `Policy version ${v.version} awaits approval by a second role: hsmkit policy apply ${file} --approve`,
      );
    });

  policy
    .command('rollback')
    .argument('<version>', 'the version to make active again')
    .description('make an earlier policy version active again (recorded as a new version)')
    .action(async (version: string) => {
      if (globals().server) return remote.rollback(globals(), version);
      const to = versionNumber(version);
      const v = await withContext(globals(), (ctx) => ctx.governance.admin.rollback(to));
      emit(
        globals(),
        { version: v.version, rolledBackFrom: to, hash: v.hash },
        () => `Policy version ${v.version} is active (restores version ${to}).`,
      );
    });

  policy
    .command('show')
    .argument('[version]', 'a stored version (default: the policy in force)')
    .description('the policy in force (or a version) and the version history')
    .action(async (version?: string) => {
      if (globals().server) return remote.show(globals(), version);
      const out = await withContext(globals(), (ctx) =>
        ctx.governance.governor.run({ operation: 'policy.show', params: { version } }, async () => {
          const history = await ctx.governance.policies.list();
          const active = ctx.governance.policy();
          if (version === undefined)
            return { version: active.version, hash: active.hash, document: active.document, history };
          const v = await ctx.governance.policies.get(versionNumber(version));
          if (!v) throw new HsmError('HSM_ERR_INVALID_INPUT', `no policy version ${version}`);
          return { version: v.version, hash: v.hash, document: parsePolicyDocument(v.document), history };
        }),
      );
      emit(globals(), out, () =>
        [
          table([
            ['version', out.version === 0 ? '0 (bootstrap from hsmkit.yaml)' : out.version],
            ['name', out.document.name],
            ['sha256', out.hash],
          ]),
          '',
          ...out.history.map(
            (h) =>
              `v${h.version} ${h.status.padEnd(10)} ${h.createdAt} ${h.author}/${h.authorRole}${h.approvedBy ? ` approved by ${h.approvedBy}` : ''}${h.rolledBackFrom ? ` (rollback to v${h.rolledBackFrom})` : ''}`,
          ),
        ].join('\n'),
      );
    });
}

function line(r: { name: string; expected: string; actual: string; rule?: string; passed: boolean }): string {
  return `${r.passed ? 'ok  ' : 'FAIL'} ${r.name}: expected ${r.expected}, got ${r.actual}${r.rule ? ` (${r.rule})` : ''}`;
}

function versionNumber(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new HsmError('HSM_ERR_INVALID_INPUT', `"${s.slice(0, 32)}" is not a policy version`);
  return n;
}

async function documentOf(ctx: CliContext, ref: string): Promise<unknown> {
  if (/^\d+$/.test(ref)) {
    const n = Number(ref);
    if (n === 0) return ctx.governance.policy().version === 0 ? ctx.governance.policy().document : undefined;
    const v = await ctx.governance.policies.get(n);
    if (!v) throw new HsmError('HSM_ERR_INVALID_INPUT', `no policy version ${ref}`);
    return parsePolicyDocument(v.document, `policy version ${n}`);
  }
  return parsePolicyDocument(readInput(ref).toString('utf8'), ref);
}
