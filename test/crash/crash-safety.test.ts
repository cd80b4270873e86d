/**
 * Crash safety (SPEC §8: "An interrupted synth leaves either the old or the new tree, never a mix"; issue 11).
 *
 * Every step that commits something to the work directory calls `faultPoint('<name>')` (src/fault.ts); with
 * `MESHGEN_FAULT=<name>[@<n>]` the process SIGKILLs itself there. The default suite runs a few commands (synth creating
 * a key, sealing and swapping dist/; seal-token; rotate; teardown; prep) in-process once to learn which fault points
 * each reaches, then, for every point of `FAULT_POINTS` (so a new point is tested automatically), runs the compiled
 * CLI killed at that point and checks: right after the kill, readers see a whole tree (the old one, or the new one that
 * `synth --check --frozen` finds current) and change nothing; after the recovery (the command again, then synth),
 * `synth --check --frozen` is clean, no temporary file, swap directory, lock or staged rotation file is left, every key
 * matches its certificate, and every private file is git-ignored.
 *
 * The random-kill soak of the previous version (SIGKILL after a random delay, many times, on a large mesh) runs only
 * with MESHGEN_SOAK=1; knobs: MESHGEN_CRASH_RUNS (kills of its main scenario, default 25), MESHGEN_CRASH_CLUSTERS
 * (default 40).
 *
 * The compiled CLI is copied (lib/, bin/, package.json; node_modules linked) to a temporary directory first, so that a
 * rebuild of lib/ by a concurrent `npm test` cannot change the program between the runs of this test.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, mock, type TestContext, test } from 'node:test';
import { parse } from 'yaml';
import { GITIGNORE_LINES } from '../../src/commands/prep';
import { FAULT_ENV, FAULT_POINTS, type FaultPoint, observeFaultPoints } from '../../src/fault';
import type * as Tree from '../../src/output/tree';
import { currentTree } from '../../src/output/tree';
import { CertStore } from '../../src/pki';
import { runCli } from '../helpers/cli';
import { useFixtureRsa2048Keys } from '../helpers/fixture-keys';
import { BASE_YAML, type MeshSpec, makeMeshWorkdir, tokenOf } from '../helpers/mesh-gen';
import { snapshotDiff, snapshotDir } from '../helpers/snapshot';
import { hashTree, REPO_ROOT } from '../helpers/workdir';

// The 2048-bit keys made in this process (the probes, readers and recoveries run in-process) are fixture keys, each
// distinct (see useFixtureRsa2048Keys); the compiled CLI killed in child processes generates its own.
useFixtureRsa2048Keys(mock);

const HAVE_LIB =
  fs.existsSync(path.join(REPO_ROOT, 'lib', 'src', 'cli', 'main.js')) && fs.existsSync(path.join(REPO_ROOT, 'lib', 'src', 'output', 'tree.js'));
const GIT = spawnSync('git', ['--version'], { stdio: 'ignore' }).error === undefined;
const SKIP = !HAVE_LIB && 'lib/src/cli/main.js is missing: run `npm run build` (npm test builds lib/ first)';
/** Reads a knob and removes it from the environment (the CLI under test must not see it). */
function knob(name: string): string | undefined {
  const v = process.env[name];
  Reflect.deleteProperty(process.env, name);
  return v;
}
const SOAK = knob('MESHGEN_SOAK') === '1';
const RUNS = Number(knob('MESHGEN_CRASH_RUNS') ?? 25);
const CLUSTERS = Number(knob('MESHGEN_CRASH_CLUSTERS') ?? 40);
Reflect.deleteProperty(process.env, FAULT_ENV);
/** The main scenario's synth must run at least this long, so kills land in every phase. */
const MIN_SYNTH_MS = 1000;

/** base.yaml of the new state: one more field, so every cluster's control-plane file changes. */
const NEW_BASE = `${BASE_YAML}  meshConfig:\n    accessLogFile: /dev/stdout\n`;

const tmpDirs: string[] = [];
const tmp = (prefix: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
};
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** The compiled CLI under test: a copy of lib/ and bin/ taken when the tests start. */
let cliRoot = '';
const bin = () => path.join(cliRoot, 'bin', 'meshgen');

function snapshotCli(): void {
  if (cliRoot !== '') return;
  cliRoot = tmp('meshgen-cli-');
  for (const d of ['lib', 'bin']) fs.cpSync(path.join(REPO_ROOT, d), path.join(cliRoot, d), { recursive: true });
  fs.copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(cliRoot, 'package.json'));
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(cliRoot, 'node_modules'), 'dir');
  const r = spawnSync(process.execPath, [bin(), '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `the compiled CLI does not start (lib/ half built?): ${r.stderr}`);
}

/** The recovery the next synth runs first: the compiled one, like the CLI under test (lib/ may be absent, hence require). */
const libTree = (): typeof Tree => require(path.join(cliRoot, 'lib', 'src', 'output', 'tree.js')) as typeof Tree;

function meshOf(n: number): MeshSpec {
  return {
    meshId: 'crash-mesh',
    repoURL: 'https://git.example.test/mesh.git',
    clusters: Array.from({ length: n }, (_, i) => ({
      context: `ctx-${i}`,
      cluster: `cluster-${String(i).padStart(3, '0')}`,
      network: `net-${i % 3}`,
    })),
  };
}

/** One digest for a whole tree (paths and contents); '' when the directory does not exist. */
function digest(dir: string): string {
  if (!fs.existsSync(dir)) return '';
  const h = crypto.createHash('sha256');
  for (const [p, sha] of [...hashTree(dir)].sort(([a], [b]) => (a < b ? -1 : 1))) h.update(`${p}\0${sha}\n`);
  return h.digest('hex');
}

/** `meshgen synth` with the compiled CLI, to completion. */
function synthChild(dir: string, ...extra: string[]): { code: number | null; stdout: string; stderr: string; ms: number } {
  const started = Date.now();
  const r = spawnSync(process.execPath, [bin(), 'synth', '--workdir', dir, ...extra], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

/** Starts the compiled `meshgen synth` and SIGKILLs it after `delayMs` (unless it is done by then). */
function synthKilled(dir: string, delayMs: number): Promise<{ killed: boolean; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin(), 'synth', '--workdir', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', code, stderr });
    });
  });
}

/** The swap directories (`.dist.meshgen-new`, `.dist.meshgen-old`) present in the work directory. */
const swapLeftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith('.dist.meshgen-'));
/** Temporary files of an interrupted atomic write in sealed/. */
const sealedLeftovers = (dir: string) =>
  fs.existsSync(path.join(dir, 'sealed')) ? fs.readdirSync(path.join(dir, 'sealed')).filter((n) => n.includes('.meshgen-tmp-')) : [];

/** Every sealed/*.yaml parses as a complete store file (header comment, cluster, secrets). */
function assertSealedComplete(dir: string, why: string): void {
  const sealed = path.join(dir, 'sealed');
  for (const f of fs.readdirSync(sealed).filter((n) => n.endsWith('.yaml'))) {
    const text = fs.readFileSync(path.join(sealed, f), 'utf8');
    let doc: { cluster?: unknown; secrets?: unknown } | undefined;
    assert.doesNotThrow(() => {
      doc = parse(text);
    }, `${why}: sealed/${f} is valid YAML`);
    assert.equal(doc?.cluster, path.basename(f, '.yaml'), `${why}: sealed/${f} is complete (names its cluster)`);
    assert.equal(typeof doc?.secrets, 'object', `${why}: sealed/${f} is complete (has its secrets)`);
    assert.ok(text.endsWith('\n'), `${why}: sealed/${f} is complete (ends with a newline)`);
  }
}

/** Puts a saved state back: dist/ and sealed/ copied from `snap`, the swap directories removed, base.yaml set. */
function restore(dir: string, snap: string, base: string): void {
  for (const n of ['dist', 'sealed', ...swapLeftovers(dir)]) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
  fs.cpSync(path.join(snap, 'dist'), path.join(dir, 'dist'), { recursive: true });
  fs.cpSync(path.join(snap, 'sealed'), path.join(dir, 'sealed'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'base.yaml'), base);
}

function snapshot(dir: string): string {
  const snap = tmp('meshgen-crash-snap-');
  fs.cpSync(path.join(dir, 'dist'), path.join(snap, 'dist'), { recursive: true });
  fs.cpSync(path.join(dir, 'sealed'), path.join(snap, 'sealed'), { recursive: true });
  return snap;
}

/** Half the kills anywhere in the run, half in its second half (where the tree is written and swapped). */
const killDelay = (ms: number) => Math.round(Math.random() < 0.5 ? Math.random() * ms : ms * (0.5 + Math.random() * 0.5));

/** The compiled CLI run with `MESHGEN_FAULT=<fault>`; resolves once it exits (killed or not). */
function runFaulted(
  dir: string,
  args: readonly string[],
  fault: string,
): Promise<{ signal: NodeJS.Signals | null; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, [FAULT_ENV]: fault };
    const child = spawn(process.execPath, [bin(), ...args, '--workdir', dir], { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ signal, code, stderr })); // after stderr is fully read
  });
}

/** Runs `fn` over `items`, at most `limit` at a time, in order of start. */
function limited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R>[] {
  let running = 0;
  const waiting: (() => void)[] = [];
  return items.map(async (item) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running += 1;
    try {
      return await fn(item);
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  });
}

/** Files meshgen leaves only while it runs: temporary files, swap directories, locks, staged rotations. */
function leftovers(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (r === '.git') continue;
      if (/\.meshgen-tmp-|^\.dist\.meshgen-|^\.meshgen\.lock|\.rotating$/.test(e.name)) out.push(r);
      else if (e.isDirectory()) walk(r);
    }
  };
  walk('');
  return out.sort();
}

/** Private files under certs/ that `git add .` would commit (not git-ignored). */
function unignoredPrivateFiles(dir: string): string[] {
  const status = spawnSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=all'], { encoding: 'utf8' }).stdout;
  return status
    .split('\n')
    .map((l) => l.slice(3))
    .filter((f) => /^certs\/.*(root-key\.pem|ca-key\.pem|reader-token)/.test(f));
}

/** A command to kill at every fault point it reaches, and what completes it afterwards. */
interface Scenario {
  readonly name: string;
  /** Builds the work directory the command starts from (copied for every run). */
  readonly build: (meshBase: string) => Promise<string>;
  /** The command (`{workdir}` is replaced). */
  readonly args: readonly string[];
  /** Run after the kill, in order, each to success: they complete or undo what the killed run left (then synth). */
  readonly recover: readonly (readonly string[])[];
  /** A mesh: readers check the tree after the kill; `synth --check --frozen` is clean after the recovery. */
  readonly mesh: boolean;
  /** Every private file is git-ignored after the recovery (the command writes keys or tokens). */
  readonly gitignore: boolean;
}

const CRASH_SPEC: MeshSpec = {
  meshId: 'crash-points',
  repoURL: 'https://git.example.test/mesh.git',
  clusters: [
    { context: 'ctx-a', cluster: 'cluster-a', network: 'net-1' },
    { context: 'ctx-b', cluster: 'cluster-b', network: 'net-1' },
    { context: 'ctx-c', cluster: 'cluster-c', network: 'net-2' },
  ],
};
const SYNTH = ['synth', '--ca-key-size', '2048'];

const SCENARIOS: readonly Scenario[] = [
  {
    // Creates cluster-c's intermediate CA (and the .gitignore lines), seals its cacerts and the whole store of
    // cluster-b, removes a stale store, and swaps in a dist/ where every control-plane file changed.
    name: 'synth',
    build: async (meshBase) => {
      const dir = copyOf(meshBase, 'synth');
      fs.writeFileSync(path.join(dir, 'base.yaml'), NEW_BASE);
      for (const f of ['ca-key.pem', 'ca-cert.pem', 'cert-chain.pem', 'root-cert.pem']) fs.rmSync(path.join(dir, 'certs', 'cluster-c', f));
      fs.rmSync(path.join(dir, 'sealed', 'cluster-b.yaml'));
      const gone = fs.readFileSync(path.join(dir, 'sealed', 'cluster-a.yaml'), 'utf8').replace('\ncluster: cluster-a\n', '\ncluster: gone\n');
      fs.writeFileSync(path.join(dir, 'sealed', 'gone.yaml'), gone);
      return dir;
    },
    args: SYNTH,
    recover: [SYNTH],
    mesh: true,
    gitignore: true,
  },
  {
    name: 'seal-token',
    build: async (meshBase) => {
      const dir = copyOf(meshBase, 'seal-token');
      fs.writeFileSync(path.join(dir, 'new-token'), `${tokenOf('cluster-c')}renewed\n`);
      return dir;
    },
    args: ['seal-token', '--context', 'ctx-c', '--token-file', '{workdir}/new-token'],
    recover: [['seal-token', '--context', 'ctx-c', '--token-file', '{workdir}/new-token'], SYNTH],
    mesh: true,
    gitignore: true,
  },
  {
    name: 'rotate',
    build: async (meshBase) => copyOf(meshBase, 'rotate'),
    args: ['rotate', '--cluster', 'cluster-a', '--ca-key-size', '2048'],
    recover: [['rotate', '--cluster', 'cluster-a', '--ca-key-size', '2048'], SYNTH],
    mesh: true,
    gitignore: true,
  },
  {
    name: 'teardown',
    build: async (meshBase) => copyOf(meshBase, 'teardown'),
    args: ['teardown'],
    recover: [['teardown']],
    mesh: true,
    gitignore: false,
  },
  {
    // The root key and its certificate: prep killed after each file it writes.
    name: 'prep',
    build: async () => {
      const dir = tmp('meshgen-crash-prep-');
      if (GIT) spawnSync('git', ['init', '-q', dir]);
      return dir;
    },
    args: ['prep', '--mesh-id', 'crash', '--org', 'example.com', '--key-size', '2048'],
    recover: [['prep', '--mesh-id', 'crash', '--org', 'example.com', '--key-size', '2048']],
    mesh: false,
    gitignore: true,
  },
];

function copyOf(from: string, name: string): string {
  const dir = tmp(`meshgen-crash-${name}-`);
  fs.cpSync(from, dir, { recursive: true });
  return dir;
}

const withWorkdir = (args: readonly string[], dir: string) => [...args.map((a) => a.replace('{workdir}', dir)), '--workdir', dir];

/** One kill: a scenario's command killed the n-th time it reaches a point. */
interface Kill {
  readonly scenario: Scenario;
  readonly point: FaultPoint;
  readonly nth: number;
  /** The work directory it ran in, and the state of dist/ it started from. */
  readonly run: Promise<{ dir: string; signal: NodeJS.Signals | null; stderr: string }>;
}

describe('crash safety: a run killed at each fault point leaves the old or the new state', { skip: SKIP }, () => {
  const bases = new Map<string, string>();
  const distBefore = new Map<string, string>();
  /** Scenario → fault point → how many times a run reaches it. */
  const reached = new Map<string, Map<FaultPoint, number>>();
  const kills = new Map<FaultPoint, Kill[]>();

  before(async () => {
    snapshotCli();
    // GIVEN a synthesized mesh of three clusters, in a git work tree without .gitignore
    const meshBase = await makeMeshWorkdir(CRASH_SPEC, { tokens: true });
    tmpDirs.push(meshBase);
    assert.equal((await runCli([...SYNTH, '--workdir', meshBase])).code, 0);
    if (GIT) spawnSync('git', ['init', '-q', meshBase]);
    // ...the work directory of each scenario, and the fault points each reaches (one run in-process, observed)
    for (const s of SCENARIOS) {
      const base = await s.build(meshBase);
      bases.set(s.name, base);
      distBefore.set(s.name, digest(path.join(base, 'dist')));
      const probe = copyOf(base, `${s.name}-probe`);
      const counts = new Map<FaultPoint, number>();
      observeFaultPoints((p) => counts.set(p, (counts.get(p) ?? 0) + 1));
      try {
        const r = await runCli(withWorkdir(s.args, probe));
        assert.equal(r.code, 0, `${s.name} runs: ${r.stderr}`);
      } finally {
        observeFaultPoints(undefined);
      }
      reached.set(s.name, counts);
    }
    // ...and every kill started (two at a time), each in its own copy: the first scenario reaching a point is killed
    // there the first and the last time it reaches it.
    const plan: { scenario: Scenario; point: FaultPoint; nth: number }[] = [];
    for (const point of FAULT_POINTS) {
      const first = SCENARIOS.find((s) => reached.get(s.name)?.has(point));
      const n = first ? (reached.get(first.name)?.get(point) ?? 0) : 0;
      if (first) for (const nth of new Set([1, n])) plan.push({ scenario: first, point, nth });
    }
    const runs = limited(plan, 2, async ({ scenario, point, nth }) => {
      const dir = copyOf(bases.get(scenario.name) as string, `${scenario.name}-${point}-${nth}`);
      const r = await runFaulted(
        dir,
        scenario.args.map((a) => a.replace('{workdir}', dir)),
        `${point}@${nth}`,
      );
      return { dir, signal: r.signal, stderr: r.stderr };
    });
    plan.forEach((p, i) => {
      const list = kills.get(p.point) ?? [];
      list.push({ ...p, run: runs[i] });
      kills.set(p.point, list);
    });
    // A failing kill must not become an unhandled rejection before its test awaits it.
    for (const r of runs) r.catch(() => {});
  });

  test('every fault point is reached by one of the scenarios (add a scenario for a new point that is not)', () => {
    assert.deepEqual(
      FAULT_POINTS.filter((p) => !SCENARIOS.some((s) => reached.get(s.name)?.has(p))),
      [],
    );
  });

  for (const point of FAULT_POINTS) {
    test(`killed at ${point}: readers see a whole tree; after recovery the work directory is consistent`, async (t) => {
      const list = kills.get(point) ?? [];
      assert.ok(list.length > 0, `no scenario reaches ${point}`);
      for (const k of list) {
        const { dir, signal, stderr } = await k.run;
        const why = `${k.scenario.name} killed at ${point}@${k.nth}`;
        // THEN the run was killed there (the point is reached in the compiled CLI as in-process)
        assert.equal(signal, 'SIGKILL', `${why}: not killed (the point was not reached):\n${stderr}`);
        if (k.scenario.mesh) {
          // ...every store is complete, and a reader sees the old tree or a new one that is current, writing nothing
          assertSealedComplete(dir, why);
          const readerBefore = snapshotDir(dir);
          if (digest(currentTree(path.join(dir, 'dist'))) !== distBefore.get(k.scenario.name)) {
            const ci = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
            assert.equal(ci.code, 0, `${why}: dist/ is neither the old tree nor current:\n${ci.stdout}${ci.stderr}`);
          } else {
            const ci = await runCli(['synth', '--check', '--workdir', dir]);
            assert.doesNotMatch(ci.stdout + ci.stderr, /is locked by/, `${why}: a dead run's lock does not stop a reader`);
          }
          assert.deepEqual(snapshotDiff(readerBefore, snapshotDir(dir)), [], `${why}: readers change nothing`);
        }
        // WHEN the command runs again (then synth)
        for (const args of k.scenario.recover) {
          const r = await runCli(withWorkdir(args, dir));
          assert.equal(r.code, 0, `${why}: recovery \`${args.join(' ')}\` fails:\n${r.stderr}`);
        }
        if (k.scenario.mesh) {
          // THEN dist/ is whole and current
          const ci = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
          assert.equal(ci.code, 0, `${why}: synth --check --frozen after recovery:\n${ci.stdout}${ci.stderr}`);
        }
        // ...nothing is left over
        assert.deepEqual(leftovers(dir), [], `${why}: left over after recovery`);
        // ...every key matches its certificate
        const store = new CertStore(dir);
        assert.ok(store.readRoot()?.keyPem, `${why}: the root and its key`);
        if (k.scenario.mesh) {
          for (const c of CRASH_SPEC.clusters) {
            const ca = store.readIntermediate(c.cluster);
            assert.ok(ca?.caKeyPem, `${why}: ${c.cluster} has its intermediate and key`);
          }
        } else {
          const gi = fs.readFileSync(path.join(dir, '.gitignore'), 'utf8').split('\n');
          for (const l of GITIGNORE_LINES) assert.ok(gi.includes(l), `${why}: .gitignore has ${l}`);
        }
        // ...and no private file would be committed
        if (GIT && k.scenario.gitignore) assert.deepEqual(unignoredPrivateFiles(dir), [], `${why}: private files not git-ignored`);
      }
      t.diagnostic(list.map((k) => `${k.scenario.name}@${k.nth}`).join(', '));
    });
  }
});

describe('crash safety: regressions', { skip: SKIP }, () => {
  let dir = '';
  before(async () => {
    snapshotCli();
    dir = await makeMeshWorkdir(meshOf(3), { tokens: true });
    tmpDirs.push(dir);
    const first = synthChild(dir, '--ca-key-size', '2048');
    assert.equal(first.code, 0, first.stderr);
  });

  test(
    'regression: files an interrupted atomic write leaves are removed by the next synth or git-ignored (never a committable half key)',
    { skip: !GIT && 'git is not installed' },
    async () => {
      // GIVEN what a kill inside writeFileAtomic leaves (`<file>.meshgen-tmp-<pid>`, half written) beside a sealed store,
      // an intermediate's private key (written by synth) and a kept reader token, in a git work tree with prep's .gitignore
      const w = tmp('meshgen-crash-tmpfile-');
      fs.cpSync(dir, w, { recursive: true });
      fs.writeFileSync(path.join(w, '.gitignore'), `${GITIGNORE_LINES.join('\n')}\n`);
      assert.equal(spawnSync('git', ['init', '-q', w]).status, 0);
      const c = meshClusters(w)[0];
      const leftovers = [`sealed/${c}.yaml`, `certs/${c}/ca-key.pem`, `certs/${c}/reader-token`].map((f) => {
        const text = fs.readFileSync(path.join(w, f), 'utf8');
        fs.writeFileSync(path.join(w, `${f}.meshgen-tmp-99999`), text.slice(0, text.length >> 1), { mode: 0o600 });
        return `${f}.meshgen-tmp-99999`;
      });
      // WHEN synth runs again
      const r = await runCli(['synth', '--workdir', w]);
      assert.equal(r.code, 0, r.stderr);
      // THEN none is left where `git add .` (the README's workflow) would commit it
      const committable = leftovers.filter(
        (f) => fs.existsSync(path.join(w, f)) && spawnSync('git', ['-C', w, 'check-ignore', '-q', f]).status !== 0,
      );
      assert.deepEqual(committable, [], 'left behind and not git-ignored');
    },
  );

  test('regression: teardown after a synth interrupted between its two renames keeps the entry points (recovers first)', async () => {
    // GIVEN a crash between rename(dist, .dist.meshgen-old) and rename(.dist.meshgen-new, dist)
    const w = tmp('meshgen-crash-teardown-');
    fs.cpSync(dir, w, { recursive: true });
    const { staging, retired } = libTree().swapPaths(path.join(w, 'dist'));
    fs.cpSync(path.join(w, 'dist'), staging, { recursive: true });
    fs.renameSync(path.join(w, 'dist'), retired);
    // WHEN the user tears the mesh down
    const r = await runCli(['teardown', '--workdir', w]);
    assert.equal(r.code, 0, r.stderr);
    // THEN the Argo CD / Flux entry points and every cluster's kustomization.yaml remain, so the commit prunes Istio
    const files = [...hashTree(path.join(w, 'dist')).keys()];
    const clusters = meshClusters(dir);
    assert.ok(files.includes('argocd/applicationset.yaml'), 'dist/argocd/applicationset.yaml is kept');
    for (const c of clusters) {
      assert.ok(files.includes(`flux/${c}/kustomizations.yaml`), `dist/flux/${c}/kustomizations.yaml is kept`);
      assert.ok(files.includes(`clusters/${c}/kustomization.yaml`), `dist/clusters/${c}/kustomization.yaml is kept`);
    }
    assert.deepEqual(swapLeftovers(w), []);
  });
});

describe(
  'crash safety soak: SIGKILL at random times during synth leaves the old or the new tree',
  { skip: SKIP || (!SOAK && 'the random-kill soak runs with MESHGEN_SOAK=1') },
  () => {
    let dir = '';
    let oldSnap = '';
    let oldDigest = '';
    let newDigest = '';
    let oldSealed = '';
    let durationMs = 0;

    before(async () => {
      snapshotCli();
      // GIVEN a mesh big enough that synth takes ≥ 1 s, synthesized (tokens sealed) by the compiled CLI: the old state;
      // and the new state's tree, from a completed synth in a copy with base.yaml changed.
      for (let n = CLUSTERS; ; n *= 2) {
        dir = await makeMeshWorkdir(meshOf(n), { tokens: true });
        tmpDirs.push(dir);
        const first = synthChild(dir, '--ca-key-size', '2048');
        assert.equal(first.code, 0, first.stderr);
        oldSnap = snapshot(dir);
        oldDigest = digest(path.join(dir, 'dist'));
        oldSealed = digest(path.join(dir, 'sealed'));

        const copy = tmp('meshgen-crash-new-');
        fs.cpSync(dir, copy, { recursive: true });
        fs.writeFileSync(path.join(copy, 'base.yaml'), NEW_BASE);
        const times: number[] = [];
        for (let i = 0; i < 2; i++) {
          restore(copy, oldSnap, NEW_BASE);
          const r = synthChild(copy);
          assert.equal(r.code, 0, r.stderr);
          times.push(r.ms);
        }
        durationMs = Math.max(...times);
        newDigest = digest(path.join(copy, 'dist'));
        const oldTree = hashTree(path.join(oldSnap, 'dist'));
        const newTree = hashTree(path.join(copy, 'dist'));
        const changed = [...newTree.keys()].filter((p) => oldTree.get(p) !== newTree.get(p));
        assert.deepEqual(
          changed.sort(),
          meshOf(n)
            .clusters.flatMap((c) => [
              `clusters/${c.cluster}/helm/istiod-values.yaml`,
              `clusters/${c.cluster}/istioctl/control-plane.yaml`,
              `flux/${c.cluster}/control-plane/releases.yaml`,
            ])
            .sort(),
          'old → new changes exactly every control-plane file',
        );
        assert.equal(newTree.size, oldTree.size);
        assert.equal(digest(path.join(copy, 'sealed')), oldSealed, 'old → new seals nothing');
        if (durationMs >= MIN_SYNTH_MS || n >= 8 * CLUSTERS) break;
      }
    });

    test(`SIGKILL at ${RUNS} random points: dist/ is the old or the new tree after recovery; sealed/ stays complete; the next synth recovers`, async (t) => {
      const tree = libTree();
      const count = { completed: 0, old: 0, new: 0, missingAfterKill: 0, stagingAfterKill: 0, retiredAfterKill: 0, sealedLeftovers: 0 };
      const delays: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        // GIVEN the old state, with base.yaml already changed
        restore(dir, oldSnap, NEW_BASE);
        // WHEN synth is killed at a random point
        const delay = killDelay(durationMs);
        delays.push(delay);
        const r = await synthKilled(dir, delay);
        const why = `run ${run + 1}, killed after ${delay} ms`;
        if (!r.killed) {
          assert.equal(r.code, 0, `${why}: synth ended by itself but failed: ${r.stderr}`);
          count.completed += 1;
        }
        // THEN right after the kill: sealed/ is complete (nothing needed sealing, so it is untouched)
        assertSealedComplete(dir, why);
        assert.equal(digest(path.join(dir, 'sealed')), oldSealed, `${why}: sealed/ unchanged`);
        count.sealedLeftovers += sealedLeftovers(dir).length;
        const dist = path.join(dir, 'dist');
        if (!fs.existsSync(dist)) count.missingAfterKill += 1;
        const [staging, retired] = [tree.swapPaths(dist).staging, tree.swapPaths(dist).retired].map((p) => fs.existsSync(p));
        if (staging) count.stagingAfterKill += 1;
        if (retired) count.retiredAfterKill += 1;

        // ... and after the recovery the next synth starts with, dist/ is exactly the old or the new tree
        tree.recoverTree(dist);
        const got = digest(dist);
        assert.ok(got === oldDigest || got === newDigest, `${why}: dist/ after recovery is neither the old nor the new tree`);
        count[got === oldDigest ? 'old' : 'new'] += 1;
        assert.deepEqual(swapLeftovers(dir), [], `${why}: recovery leaves no swap directory`);

        // ... and the next synth completes with the new tree
        const next = synthChild(dir);
        assert.equal(next.code, 0, `${why}: the next synth fails: ${next.stderr}`);
        assert.deepEqual(swapLeftovers(dir), [], `${why}: the next synth leaves no .dist.meshgen-* directory`);
        assert.equal(digest(dist), newDigest, `${why}: the next synth yields the new tree`);
        assert.equal(digest(path.join(dir, 'sealed')), oldSealed, `${why}: sealed/ unchanged by the next synth`);
      }
      summary(t, { clusters: meshClusters(dir), synthMs: durationMs, runs: RUNS, ...count, delays });
      assert.equal(count.old + count.new, RUNS);
    });

    test('SIGKILL while sealing: every sealed/ file stays complete YAML; dist/ is the old tree or one consistent with sealed/', async (t) => {
      // GIVEN the old state without reader tokens (remote secrets omitted), and the new state with every token kept,
      // so synth seals n·(n-1) tokens and rewrites every sealed/ file before writing dist/. Sealing is randomized, so the
      // new tree is not known in advance: it must be the one `synth --check --frozen` finds current.
      const sdir = await makeMeshWorkdir(meshOf(Math.ceil(CLUSTERS / 2)), { tokens: true });
      tmpDirs.push(sdir);
      const tokens = fs.readdirSync(path.join(sdir, 'certs')).filter((c) => fs.existsSync(path.join(sdir, 'certs', c, 'reader-token')));
      const away = tmp('meshgen-crash-tokens-');
      for (const c of tokens) fs.renameSync(path.join(sdir, 'certs', c, 'reader-token'), path.join(away, c));
      for (const n of ['dist', 'sealed']) fs.rmSync(path.join(sdir, n), { recursive: true, force: true });
      const first = synthChild(sdir);
      assert.equal(first.code, 0, first.stderr);
      const snap = snapshot(sdir);
      const sealedOld = digest(path.join(sdir, 'sealed'));
      const distOld = digest(path.join(sdir, 'dist'));
      for (const c of tokens) fs.copyFileSync(path.join(away, c), path.join(sdir, 'certs', c, 'reader-token'));
      const measured = synthChild(sdir);
      assert.equal(measured.code, 0, measured.stderr);
      assert.match(measured.stdout, /sealed \d+ value/);

      const runs = Math.max(3, Math.ceil(RUNS / 5));
      const count = { completed: 0, old: 0, consistent: 0, storesRewritten: 0, sealedLeftovers: 0 };
      const delays: number[] = [];
      for (let run = 0; run < runs; run++) {
        restore(sdir, snap, BASE_YAML);
        const delay = killDelay(measured.ms);
        delays.push(delay);
        const r = await synthKilled(sdir, delay);
        const why = `sealing run ${run + 1}, killed after ${delay} ms`;
        if (!r.killed) {
          assert.equal(r.code, 0, `${why}: ${r.stderr}`);
          count.completed += 1;
        }
        assertSealedComplete(sdir, why);
        if (digest(path.join(sdir, 'sealed')) !== sealedOld) count.storesRewritten += 1;
        count.sealedLeftovers += sealedLeftovers(sdir).length;

        libTree().recoverTree(path.join(sdir, 'dist'));
        if (digest(path.join(sdir, 'dist')) === distOld) count.old += 1;
        else {
          // Not the old tree: then it is the new one, which is exactly what the sealed store (written before dist/) says.
          const ci = synthChild(sdir, '--check', '--frozen');
          assert.equal(ci.code, 0, `${why}: dist/ is neither the old tree nor consistent with sealed/:\n${ci.stdout}${ci.stderr}`);
          count.consistent += 1;
        }
        const next = synthChild(sdir);
        assert.equal(next.code, 0, `${why}: the next synth fails: ${next.stderr}`);
        assert.deepEqual(swapLeftovers(sdir), [], `${why}: no .dist.meshgen-* directory`);
        const ci = synthChild(sdir, '--check', '--frozen');
        assert.equal(ci.code, 0, `${why}: after the next synth, dist/ and sealed/ are current:\n${ci.stdout}${ci.stderr}`);
      }
      summary(t, { synthMs: measured.ms, runs, ...count, delays });
    });
  },
);

function meshClusters(dir: string): string[] {
  return fs.readdirSync(path.join(dir, 'dist', 'clusters')).sort();
}

function summary(t: TestContext, s: Record<string, unknown> & { delays: number[]; clusters?: string[] }): void {
  const { delays, clusters, ...rest } = s;
  const sorted = [...delays].sort((a, b) => a - b);
  t.diagnostic(
    JSON.stringify({
      ...(clusters ? { clusters: clusters.length } : {}),
      ...rest,
      killDelayMs: { min: sorted[0], median: sorted[sorted.length >> 1], max: sorted[sorted.length - 1] },
    }),
  );
}
