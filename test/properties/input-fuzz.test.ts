/**
 * A small fuzz test of the inputs: random mutations of the example's topology.yaml and base.yaml (bytes, keys named
 * like Object.prototype properties, hostile values, deleted, repeated and truncated lines) run through `meshgen synth`
 * in-process. Whatever the input: exit 0, 1 or 2 (3 is a bug), no stack trace, a bounded message, and on a non-zero
 * exit the work directory exactly as it was.
 *
 * The seed is fixed (and printed) so that a failure reproduces: `FUZZ_SEED=<seed> npm test -- test/properties/input-fuzz.test.ts`.
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { runCli } from '../helpers/cli';
import { hashTree, makeExampleWorkdir } from '../helpers/workdir';

const SEED = Number(process.env.FUZZ_SEED ?? 20251202);
const RUNS = Number(process.env.FUZZ_RUNS ?? 200);

const FILES = ['topology.yaml', 'base.yaml'] as const;
type File = (typeof FILES)[number];

/** Keys that have broken JavaScript code before: Object.prototype properties. */
const PROTOTYPE_KEYS = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'prototype'];

/** Keys of meshgen's files (in the wrong place, or twice), and other odd ones. */
const KEYS = [
  'contexts',
  'mesh_id',
  'network',
  'cluster',
  'role',
  'primary',
  'server',
  'certificateAuthorityData',
  'sealingCert',
  'eastWestGateway',
  'istio',
  'secrets',
  'gitops',
  'spec',
  'values',
  'global',
  'components',
  'k8s',
  'revision',
  'installer',
  '"{{ .x }}"',
  '"a\\eb"',
  '? [a, b]',
  'x'.repeat(300),
];

/** Values: wrong types, aliases, tags, secrets, controls, template delimiters, huge names. */
const VALUES = [
  '1',
  '-1',
  '0x10',
  '.nan',
  'true',
  'null',
  '~',
  '[]',
  '{}',
  '[[[[[[]]]]]]',
  '"constructor"',
  '__proto__',
  'remote',
  'primary',
  'helm',
  'sail',
  'external-secrets',
  'context-east-1',
  'context-west-1',
  'https://u:p@h.example.com',
  'https://h.example.com/?token=t',
  '"{{ .token }}"',
  '"a\\u2028b"',
  '"\\e[2J"',
  '"\\x7f"',
  '*anchor',
  '&anchor x',
  '!!binary aGVsbG8=',
  '!!js/function f',
  '|\n  multi\n  line',
  'a'.repeat(254),
  '/dev/zero',
  '/etc/passwd',
  '../outside.pem',
  'LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCg==',
];

type Mutation =
  | { kind: 'bytes'; at: number; bytes: Uint8Array }
  | { kind: 'line'; at: number; indent: number; key: string; value: string }
  | { kind: 'value'; at: number; value: string }
  | { kind: 'delete'; at: number }
  | { kind: 'repeat'; at: number }
  | { kind: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('line' as const),
      at: fc.nat(),
      indent: fc.constantFrom(0, 2, 4, 6),
      key: fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) }, fc.constantFrom(...KEYS)),
      value: fc.constantFrom(...VALUES),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('value' as const),
      at: fc.nat(),
      value: fc.oneof(fc.constantFrom(...VALUES), fc.string({ maxLength: 20 })),
    }),
  },
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function apply(text: string, m: Mutation): string {
  const lines = text.split('\n');
  const line = m.at % lines.length;
  switch (m.kind) {
    case 'bytes': {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + Buffer.from(m.bytes).toString('latin1') + text.slice(at);
    }
    case 'line': {
      // Mostly a sibling of an existing key (same indentation), so that the YAML stays valid and the key is looked up.
      let j = line;
      while (j < lines.length && /^\s*(#|$)/.test(lines[j])) j++;
      const indent = j < lines.length && m.indent !== 6 ? (/^\s*/.exec(lines[j])?.[0] ?? '') : ' '.repeat(m.indent);
      lines.splice(j, 0, `${indent}${m.key}: ${m.value}`);
      return lines.join('\n');
    }
    case 'value': {
      // The value of the nearest `key: value` line at or after `line`.
      for (let i = 0; i < lines.length; i++) {
        const j = (line + i) % lines.length;
        const kv = /^(\s*[^#\s][^:]*:)\s+\S.*$/.exec(lines[j]);
        if (kv) {
          lines[j] = `${kv[1]} ${m.value}`;
          break;
        }
      }
      return lines.join('\n');
    }
    case 'delete':
      lines.splice(line, 1);
      return lines.join('\n');
    case 'repeat':
      lines.splice(line, 0, lines[line]);
      return lines.join('\n');
    case 'truncate':
      return text.slice(0, m.at % (text.length + 1));
  }
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test(`synth on mutated topology.yaml / base.yaml: exit 0, 1 or 2, no stack trace, work directory unchanged on failure (seed ${SEED}, ${RUNS} runs)`, async (t) => {
  t.diagnostic(`fast-check seed ${SEED} (FUZZ_SEED to change it)`);
  // Without private keys: synth never creates a key, so a failing run has nothing it may legitimately leave behind.
  const pristine = makeExampleWorkdir({ withPrivateKeys: false });
  dirs.push(pristine);
  const originals = Object.fromEntries(FILES.map((f) => [f, fs.readFileSync(path.join(pristine, f), 'utf8')])) as Record<File, string>;
  const pristineHash = hashTree(pristine);
  const dir = makeExampleWorkdir({ withPrivateKeys: false });
  dirs.push(dir);
  const stats: [number, number][] = [];

  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...FILES), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (file, mutations) => {
      // GIVEN the example with one input mutated (both files are written: a failed run must not leak into the next)
      const text = mutations.reduce(apply, originals[file]);
      for (const f of FILES) fs.writeFileSync(path.join(dir, f), f === file ? text : originals[f]);
      const before = new Map(pristineHash).set(file, crypto.createHash('sha256').update(text).digest('hex'));

      // WHEN
      const start = Date.now();
      const r = await runCli(['synth', '--workdir', dir]);
      stats.push([r.code, Date.now() - start]);

      // THEN
      const after = hashTree(dir);
      try {
        const shown = `${file} mutated by ${JSON.stringify(mutations)}\nexit ${r.code}\nstderr:\n${r.stderr.slice(0, 2000)}`;
        assert.ok([0, 1, 2].includes(r.code), `exit code\n${shown}`);
        assert.ok(!r.stderr.split('\n').some((l) => /^\s+at /.test(l)), `stack trace in stderr\n${shown}`);
        assert.ok(r.stderr.length < 20_000, `stderr is ${r.stderr.length} characters\n${shown}`);
        if (r.code !== 0) assert.deepEqual(after, before, `the work directory changed on exit ${r.code}\n${shown}`);
      } finally {
        // Back to the example for the next run.
        fs.writeFileSync(path.join(dir, file), originals[file]);
        if (!isDeepStrictEqual(after, before)) {
          // Only the files the run changed (copying whole directories would take most of the test's time).
          for (const [f, h] of after) if (f !== file && pristineHash.get(f) !== h) fs.rmSync(path.join(dir, f));
          for (const [f, h] of pristineHash) if (f !== file && after.get(f) !== h) fs.cpSync(path.join(pristine, f), path.join(dir, f));
          assert.deepEqual(hashTree(dir), pristineHash, 'the work directory could not be restored');
        }
      }
    }),
    { seed: SEED, numRuns: RUNS },
  );
  if (process.env.FUZZ_STATS) {
    for (const code of [0, 1, 2]) {
      const s = stats.filter(([c]) => c === code);
      t.diagnostic(`exit ${code}: ${s.length} runs, ${s.reduce((a, [, ms]) => a + ms, 0)} ms`);
    }
  }
});
