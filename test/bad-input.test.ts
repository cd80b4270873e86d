/**
 * The bad-input corpus (SPEC §8): one test per `test/fixtures/bad/<NN-name>/case.yaml`.
 *
 * A case builds a work directory, runs `meshgen <args> --workdir <dir>` in-process and expects it to fail cleanly:
 *
 * ```yaml
 * description: a context has an unknown key   # the test is named "<NN-name>: fails when <description>"
 * base: example        # example (with private keys) | example-public (without) | empty
 * files: {rel: text}   # written into the work directory, replacing what is there
 * copy: {rel: from}    # `from` relative to the case directory
 * delete: [rel]
 * edit: [{file, from, to}]   # plain text replacement; `from` must occur
 * symlink: {rel: target}     # `target` as it is (absolute, e.g. /dev/zero), or relative to the work directory
 * pad: {rel: bytes}          # append comment lines to the file until it has at least that many bytes
 * args: [synth]        # `{workdir}` in an argument is replaced by the work directory
 * workdir: rel         # optional: pass --workdir <dir>/<rel> instead of <dir> (e.g. a missing directory); no --workdir is
 *                      # added when `args` has one. Runs happen in an empty current directory.
 * stdin: ""            # optional
 * env: {NAME: value}   # optional; null unsets; restored afterwards
 * expect:
 *   exit: 2
 *   file: topology.yaml   # the file the problem is reported against (or a list of acceptable ones): a problem line
 *                         # starts with it; without an "error:" header (yargs usage errors), stderr names it
 *   stderr: [substring, ...]
 *   lines: 1              # optional: number of problem lines under the "error:" / "N errors:" header
 *   absent: [substring, ...]   # optional: what stderr and stdout must not hold (a secret of the input)
 * ```
 *
 * `{workdir}` in `args`, `expect.file` and `expect.stderr` is replaced by the work directory.
 *
 * Every case also checks: no stack trace; every problem line has a fix; a problem line citing `file:line` cites a line
 * that exists in that file; nothing in the work directory added, changed or removed.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { main } from '../src/cli/main';
import { hashTree, makeExampleWorkdir } from './helpers/workdir';

const CASES_DIR = path.join(__dirname, 'fixtures', 'bad');
const CASE_KEYS = ['description', 'base', 'files', 'copy', 'delete', 'edit', 'symlink', 'pad', 'args', 'workdir', 'stdin', 'env', 'expect'];

interface Case {
  readonly description: string;
  readonly base: 'example' | 'example-public' | 'empty';
  readonly files?: Record<string, string>;
  readonly copy?: Record<string, string>;
  readonly delete?: string[];
  readonly edit?: { file: string; from: string; to: string }[];
  readonly symlink?: Record<string, string>;
  readonly pad?: Record<string, number>;
  readonly args: string[];
  readonly workdir?: string;
  readonly stdin?: string;
  readonly env?: Record<string, string | null>;
  readonly expect: { exit: number; file: string | string[]; stderr: string[]; lines?: number; absent?: string[] };
}

const tempDirs: string[] = [];
after(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

function loadCase(name: string): Case {
  const c = parse(fs.readFileSync(path.join(CASES_DIR, name, 'case.yaml'), 'utf8')) as Case;
  const unknown = Object.keys(c).filter((k) => !CASE_KEYS.includes(k));
  assert.deepEqual(unknown, [], `${name}/case.yaml: unknown keys`);
  assert.ok(['example', 'example-public', 'empty'].includes(c.base), `${name}/case.yaml: base must be example, example-public or empty`);
  assert.ok(
    c.expect && typeof c.expect.exit === 'number' && c.expect.file !== undefined && Array.isArray(c.expect.stderr),
    `${name}/case.yaml: expect.exit and expect.file are required`,
  );
  return c;
}

function buildWorkdir(name: string, c: Case): string {
  const dir =
    c.base === 'empty' ? fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-empty-')) : makeExampleWorkdir({ withPrivateKeys: c.base === 'example' });
  tempDirs.push(dir);
  for (const [rel, text] of Object.entries(c.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  for (const [rel, from] of Object.entries(c.copy ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.copyFileSync(path.join(CASES_DIR, name, from), path.join(dir, rel));
  }
  for (const rel of c.delete ?? []) fs.rmSync(path.join(dir, rel), { recursive: true });
  for (const e of c.edit ?? []) {
    const text = fs.readFileSync(path.join(dir, e.file), 'utf8');
    assert.ok(text.includes(e.from), `${name}/case.yaml: edit: ${JSON.stringify(e.from)} does not occur in ${e.file}`);
    fs.writeFileSync(path.join(dir, e.file), text.replace(e.from, e.to));
  }
  for (const [rel, bytes] of Object.entries(c.pad ?? {})) {
    const size = fs.statSync(path.join(dir, rel)).size;
    const line = `#${'-'.repeat(99)}\n`;
    if (size < bytes) fs.appendFileSync(path.join(dir, rel), line.repeat(Math.ceil((bytes - size) / line.length)));
  }
  for (const [rel, target] of Object.entries(c.symlink ?? {})) {
    fs.rmSync(path.join(dir, rel), { force: true });
    fs.symlinkSync(path.isAbsolute(target) ? target : path.relative(path.dirname(path.join(dir, rel)), path.join(dir, target)), path.join(dir, rel));
  }
  return dir;
}

/** A writable stream that keeps what is written; not a TTY. */
function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

async function run(args: string[], stdin: string, env: Record<string, string | null>): Promise<{ exit: number; stdout: string; stderr: string }> {
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === null) delete process.env[k];
    else process.env[k] = v;
  }
  const stdout = capture();
  const stderr = capture();
  try {
    const exit = await main(args, { stdout: stdout.stream, stderr: stderr.stream, stdin: Readable.from([Buffer.from(stdin)]) });
    return { exit, stdout: stdout.text(), stderr: stderr.text() };
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** The lines under the `error:` / `N errors:` header, or undefined when there is no header. */
function problemLines(stderr: string): string[] | undefined {
  const lines = stderr.split('\n');
  const header = lines.findIndex((l) => /^(error|\d+ errors):$/.test(l));
  if (header < 0) return undefined;
  return lines.slice(header + 1).filter((l) => l.startsWith('  '));
}

const names = fs
  .readdirSync(CASES_DIR)
  .filter((n) => fs.existsSync(path.join(CASES_DIR, n, 'case.yaml')))
  .sort();

test('the bad-input corpus has at least 45 cases', () => {
  assert.ok(names.length >= 45, `only ${names.length} cases`);
});

for (const name of names) {
  let c: Case;
  try {
    c = loadCase(name);
  } catch (e) {
    test(`${name}: case.yaml is valid`, () => {
      throw e;
    });
    continue;
  }
  test(`${name}: fails when ${c.description}`, async () => {
    // GIVEN
    const dir = buildWorkdir(name, c);
    const before = hashTree(dir);
    const workdir = c.workdir === undefined ? dir : path.join(dir, c.workdir);
    const fill = (t: string) => t.replaceAll('{workdir}', dir);
    // A case that passes --workdir itself (twice, empty, without a value) gets no other.
    const own = c.args.some((a) => a === '--workdir' || a.startsWith('--workdir='));
    const args = own ? c.args.map(fill) : [...c.args.map(fill), '--workdir', workdir];
    const files = (Array.isArray(c.expect.file) ? c.expect.file : [c.expect.file]).map(fill);

    // WHEN (in an empty current directory: a run that wrongly falls back to "." must find nothing there to change)
    const cwd = process.cwd();
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-cwd-'));
    tempDirs.push(empty);
    process.chdir(empty);
    let r: Awaited<ReturnType<typeof run>>;
    try {
      r = await run(args, c.stdin ?? '', c.env ?? {});
    } finally {
      process.chdir(cwd);
    }
    assert.deepEqual(fs.readdirSync(empty), [], 'the run wrote into the current directory');

    // THEN
    const shown = `stderr:\n${r.stderr}\nstdout:\n${r.stdout}`;
    assert.equal(r.exit, c.expect.exit, `exit code\n${shown}`);
    for (const s of c.expect.stderr.map(fill)) assert.ok(r.stderr.includes(s), `stderr lacks ${JSON.stringify(s)}\n${shown}`);
    assert.ok(!r.stderr.split('\n').some((l) => /^\s+at /.test(l)), `stack trace in stderr\n${shown}`);
    const problems = problemLines(r.stderr);
    if (problems === undefined) {
      assert.ok(
        files.some((f) => r.stderr.includes(f)),
        `stderr names none of ${files.join(', ')}\n${shown}`,
      );
    } else {
      assert.ok(
        problems.some((l) => files.some((f) => l.startsWith(`  ${f}`))),
        `no problem line starts with ${files.join(' or ')}\n${shown}`,
      );
      for (const l of problems) assert.ok(l.includes('; fix: '), `problem line without a fix: ${l}\n${shown}`);
      for (const l of problems) assert.equal(citedLineProblem(dir, l), undefined, `${citedLineProblem(dir, l)}\n${shown}`);
    }
    if (c.expect.lines !== undefined) assert.equal(problems?.length, c.expect.lines, `number of problem lines\n${shown}`);
    for (const s of c.expect.absent ?? []) {
      assert.ok(!r.stderr.includes(s) && !r.stdout.includes(s), `the output shows ${JSON.stringify(s)}, which it must not\n${shown}`);
    }
    // Messages quote at most a short excerpt of bad input.
    assert.ok(r.stderr.length < 8000, `stderr is ${r.stderr.length} characters long`);
    const changed = diffHashes(before, hashTree(dir));
    assert.deepEqual(changed, [], `the work directory changed\n${shown}`);
  });
}

/** Why the `file:line` a problem line cites cannot be right (the file does not exist or is shorter), or undefined. */
function citedLineProblem(dir: string, line: string): string | undefined {
  const m = /^ {2}([^\s:]+):(\d+)(?::\d+)?: /.exec(line);
  if (!m) return undefined;
  const file = path.resolve(dir, m[1]);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) return `cites line ${m[2]} of ${m[1]}, which is not a file: ${line}`;
  // A YAML error at the end of a file that ends with a newline points just past the last line.
  const count = fs.readFileSync(file, 'utf8').split('\n').length;
  return Number(m[2]) <= count ? undefined : `cites line ${m[2]} of ${m[1]}, which has ${count - 1} lines: ${line}`;
}

function diffHashes(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [f, h] of before) {
    if (!after.has(f)) out.push(`removed ${f}`);
    else if (after.get(f) !== h) out.push(`changed ${f}`);
  }
  for (const f of after.keys()) if (!before.has(f)) out.push(`added ${f}`);
  return out;
}
