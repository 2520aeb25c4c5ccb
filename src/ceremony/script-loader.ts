import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { formatPath, type PathSegment } from '../config/issues.js';
import { checkYamlSize, MAX_YAML_ALIASES } from '../config/yaml-limits.js';
import { HsmError } from '../errors/index.js';
import {
  ACTION_PARAMS,
  type ActionParams,
  type CeremonyScriptInput,
  ceremonyScriptSchema,
  type StepAction,
} from './script-schema.js';

/** One step with its validated parameters. */
export type CeremonyStep = {
  [A in StepAction]: {
    /** 1-based step number. */
    number: number;
    action: A;
    description?: string;
    /** Approvals needed. */
    quorum: number;
    params: ActionParams[A];
  };
}[StepAction];

/** A validated script, ready to run. */
export interface CeremonyScript {
  /** The script as parsed (snake_case, as written). */
  doc: CeremonyScriptInput;
  steps: CeremonyStep[];
  /** SHA-256 hex of the script bytes. */
  sha256: string;
  /** Folder relative output paths are resolved against. */
  dir: string;
  /** Absolute path of an output named in the script. */
  path(p: string): string;
  /** Names of the participants with role custodian. */
  custodians: string[];
  /** Names of the security officers (emergency alerts go to them). */
  officers: string[];
}

/** The error for one problem at a YAML path. */
function scriptError(path: readonly PathSegment[], text: string, source: string): HsmError {
  const at = formatPath(path);
  return new HsmError('HSM_ERR_CEREMONY_SCRIPT', `${source}: ${at}: ${text}`, { details: { path: at } });
}

function zodError(err: z.ZodError, prefix: PathSegment[], source: string): HsmError {
  const lines = err.issues.map(
    (i) => `${formatPath([...prefix, ...(i.path as PathSegment[])])}: ${i.message}`,
  );
  const first = err.issues[0];
  return new HsmError('HSM_ERR_CEREMONY_SCRIPT', `${source}: ${lines.join('; ')}`, {
    details: { path: formatPath([...prefix, ...((first?.path ?? []) as PathSegment[])]), issues: lines },
  });
}

/** Reads and validates a ceremony script file; HSM_ERR_CEREMONY_SCRIPT names the YAML path. */
export function loadCeremonyScript(file: string): CeremonyScript {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`,
    );
  }
  return parseCeremonyScript(bytes, dirname(resolve(file)), file);
}

/** Validates script bytes; `dir` is where relative outputs go. */
export function parseCeremonyScript(bytes: Uint8Array, dir: string, source = 'script'): CeremonyScript {
  checkYamlSize(bytes, source);
  const doc = parseDocument(Buffer.from(bytes).toString('utf8'), { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new HsmError('HSM_ERR_CEREMONY_SCRIPT', `${source}: YAML syntax: ${e.message.split('\n')[0]}`, {
      details: { path: '(root)' },
    });
  }
  let tree: unknown;
  try {
    tree = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch {
    throw new HsmError(
      'HSM_ERR_CEREMONY_SCRIPT',
      `${source}: too many or bad YAML aliases (at most ${MAX_YAML_ALIASES})`,
      {
        details: { path: '(root)' },
      },
    );
  }
  const parsed = ceremonyScriptSchema.safeParse(tree);
  if (!parsed.success) throw zodError(parsed.error, [], source);
  const s = parsed.data;
  const steps = s.steps.map((st, i): CeremonyStep => {
    const p = ACTION_PARAMS[st.action].safeParse(st.params);
    if (!p.success) throw zodError(p.error, ['steps', i, 'params'], source);
    const step = { number: i + 1, action: st.action, quorum: st.quorum ?? s.quorum.m, params: p.data };
    return (st.description === undefined ? step : { ...step, description: st.description }) as CeremonyStep;
  });
  const script: CeremonyScript = {
    doc: s,
    steps,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    dir,
    path: (p) => (isAbsolute(p) ? p : resolve(dir, p)),
    custodians: s.participants.filter((x) => x.role === 'custodian').map((x) => x.name),
    officers: s.participants.filter((x) => x.role === 'security_officer').map((x) => x.name),
  };
  checkConsistency(script, source);
  return script;
}

/** Rules that span fields: quorum against custodians, emergencies, outputs, key references. */
function checkConsistency(script: CeremonyScript, source: string): void {
  const s = script.doc;
  const fail = (path: PathSegment[], text: string) => {
    throw scriptError(path, text, source);
  };
  const names = new Set<string>();
  s.participants.forEach((p, i) => {
    if (names.has(p.name)) fail(['participants', i, 'name'], `participant "${p.name}" is listed twice`);
    names.add(p.name);
  });
  if (script.custodians.length !== s.quorum.n) {
    fail(['quorum', 'n'], `n is ${s.quorum.n} but ${script.custodians.length} participants are custodians`);
  }
  if (s.quorum.m > s.quorum.n) fail(['quorum', 'm'], `m (${s.quorum.m}) exceeds n (${s.quorum.n})`);
  if (Date.parse(s.window.not_before) >= Date.parse(s.window.not_after)) {
    fail(['window', 'not_after'], 'not_after must be later than not_before');
  }
  if (s.ceremony.type === 'emergency') {
    if (!s.emergency) fail(['emergency'], 'an emergency ceremony needs emergency.reason');
    // Break-glass needs more people than a routine ceremony: a majority plus one, at least.
    const need = Math.min(s.quorum.n, Math.floor(s.quorum.n / 2) + 2);
    if (s.quorum.m < need)
      fail(['quorum', 'm'], `an emergency ceremony of ${s.quorum.n} needs m of at least ${need}`);
    if (script.officers.length === 0) {
      fail(['participants'], 'an emergency ceremony needs a security_officer to alert');
    }
  } else if (s.emergency) {
    fail(['emergency'], 'only an emergency ceremony has an emergency block');
  }
  const outputs = new Set<string>();
  s.outputs.forEach((o, i) => {
    const abs = script.path(o);
    if (outputs.has(abs)) fail(['outputs', i], `output ${o} is listed twice`);
    outputs.add(abs);
  });
  if (!outputs.has(script.path(s.transcript)))
    fail(['transcript'], 'the transcript must be listed in outputs');
  const produced = new Set<string>([script.path(s.transcript)]);
  const keys = new Set<string>();
  for (const [i, st] of script.steps.entries()) {
    const at = (...rest: PathSegment[]) => ['steps', i, ...rest];
    if (st.quorum > s.quorum.n) fail(at('quorum'), `quorum ${st.quorum} exceeds n (${s.quorum.n})`);
    if (st.quorum < s.quorum.m)
      fail(at('quorum'), `quorum ${st.quorum} is below the ceremony's m (${s.quorum.m})`);
    const params = st.params as Record<string, unknown>;
    if (typeof params.output === 'string') {
      const abs = script.path(params.output);
      if (!outputs.has(abs)) fail(at('params', 'output'), `${params.output} is not listed in outputs`);
      if (produced.has(abs)) fail(at('params', 'output'), `${params.output} is written by another step`);
      produced.add(abs);
    }
    if (st.action === 'generate-key') {
      if (keys.has(st.params.label))
        fail(at('params', 'label'), `key "${st.params.label}" is generated twice`);
      keys.add(st.params.label);
    }
    if (
      (st.action === 'create-root-ca' || st.action === 'create-intermediate-ca') &&
      !keys.has(st.params.key)
    ) {
      fail(at('params', 'key'), `key "${st.params.key}" is not generated by an earlier step`);
    }
    if (st.action === 'split-secret') {
      st.params.custodians.forEach((c, j) => {
        if (!script.custodians.includes(c))
          fail(at('params', 'custodians', j), `"${c}" is not a custodian here`);
      });
      if (new Set(st.params.custodians).size !== st.params.custodians.length) {
        fail(at('params', 'custodians'), 'a custodian is listed twice');
      }
      if (st.params.threshold > st.params.custodians.length) {
        fail(at('params', 'threshold'), 'threshold exceeds the number of custodians');
      }
    }
  }
  s.outputs.forEach((o, i) => {
    if (!produced.has(script.path(o))) fail(['outputs', i], `no step writes ${o}`);
  });
}
