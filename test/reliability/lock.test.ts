/**
 * Concurrent runs (issue 11, category 1): every command that writes in the work directory holds its lock; readers
 * (`synth --check`, `validate`) share it; a held lock fails with exit 2 naming the holder; a stale lock (dead process,
 * reused PID, a foreign host's lock not refreshed) is taken over. Several synths started at once on one work directory
 * leave a whole tree that `synth --check` finds current, and no reader ever sees a half-swapped tree.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { InputError } from '../../src/errors';
import { acquireLock, FOREIGN_STALE_MS, LOCK_FILE, type LockHolder } from '../../src/lock';
import { runCli } from '../helpers/cli';
import { BASE_YAML, type MeshSpec, makeMeshWorkdir, synthIn } from '../helpers/mesh-gen';
import { snapshotDiff, snapshotDir } from '../helpers/snapshot';
import { hashTree, makeExampleWorkdir, REPO_ROOT } from '../helpers/workdir';

const BIN = path.join(REPO_ROOT, 'bin', 'meshgen');
const LIB_LOCK = path.join(REPO_ROOT, 'lib', 'src', 'lock.js');
const HAVE_LIB = fs.existsSync(path.join(REPO_ROOT, 'lib', 'src', 'cli', 'main.js')) && fs.existsSync(LIB_LOCK);
const NO_LIB = !HAVE_LIB && 'lib/ is not built: run `npm run build` (npm test builds it first)';
const PROC = fs.existsSync(`/proc/${process.pid}/stat`);

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = (prefix: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
};

/** A process that runs until the test ends (a live lock holder). */
function liveProcess(): number {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(c);
  return c.pid as number;
}

/** The PID of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

function writeLock(dir: string, h: Partial<LockHolder>, mtime?: Date): LockHolder {
  const holder: LockHolder = {
    pid: 1,
    host: os.hostname(),
    command: 'meshgen synth',
    since: '2030-01-02T03:04:05.000Z',
    token: 'test-token',
    mode: 'exclusive',
    ...h,
  };
  const file = path.join(dir, LOCK_FILE);
  fs.writeFileSync(file, JSON.stringify(holder));
  if (mtime) fs.utimesSync(file, mtime, mtime);
  return holder;
}

const SPEC: MeshSpec = {
  meshId: 'lock-mesh',
  clusters: Array.from({ length: 6 }, (_, i) => ({ context: `ctx-${i}`, cluster: `cluster-${i}`, network: `net-${i % 2}` })),
};

describe('a held lock', () => {
  test('every command that writes, and the readers, exit 2 naming the holder (pid, command, host, since) and how to clear it', async () => {
    // GIVEN the example work directory, locked by a live synth
    const dir = makeExampleWorkdir({ withPrivateKeys: true });
    dirs.push(dir);
    const pid = liveProcess();
    const holder = writeLock(dir, { pid });
    fs.writeFileSync(path.join(dir, 'token'), 'abc.def.ghi\n');
    const before = snapshotDir(dir);
    const out = tmp('meshgen-lock-out-');
    const commands = [
      ['synth'],
      ['synth', '--check'],
      ['synth', '--frozen'],
      ['validate'],
      ['teardown'],
      ['seal-token', '--context', 'context-east-1', '--token-file', path.join(dir, 'token')],
      ['rotate', '--cluster', 'cluster-east-1', '--ca-key-size', '2048'],
      ['rotate-root', '--phase', 'add', '--key-size', '2048'],
      ['prep', '--mesh-id', 'mymeshname', '--org', 'example.com'],
      ['export-ca', '--cluster', 'cluster-east-1', '--out', path.join(out, 'ca')],
      ['discover', '--kubeconfig', path.join(__dirname, '..', 'fixtures', 'discover', 'kubeconfig-example.yaml')],
    ];
    for (const args of commands) {
      // WHEN it runs THEN it fails with exit 2, naming the holder and the fix
      const r = await runCli([...args, '--workdir', dir]);
      const what = `meshgen ${args.join(' ')}`;
      assert.equal(r.code, 2, `${what}: exit code\n${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /\.meshgen\.lock: the work directory .* is locked by `meshgen synth`/, what);
      assert.ok(r.stderr.includes(`pid ${pid} on host ${holder.host}, since ${holder.since}`), `${what}: names the holder\n${r.stderr}`);
      assert.ok(r.stderr.includes(`delete ${path.join(dir, LOCK_FILE)}`), `${what}: says how to clear it\n${r.stderr}`);
    }
    // ...and nothing was written (the lock is the other run's: it stays)
    assert.deepEqual(snapshotDiff(before, snapshotDir(dir)), []);
    assert.deepEqual(fs.readdirSync(out), []);
  });

  test('in one process: a second writer is refused; readers share the lock; a writer of the process may read', () => {
    const dir = tmp('meshgen-lock-unit-');
    const w = acquireLock(dir, 'meshgen synth', 'exclusive');
    assert.throws(
      () => acquireLock(dir, 'meshgen rotate', 'exclusive'),
      (e: unknown) => e instanceof InputError && e.message.includes(`pid ${process.pid}`) && e.message.includes('`meshgen synth`'),
    );
    const nested = acquireLock(dir, 'meshgen validate', 'shared');
    nested.release();
    w.release();
    assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)), 'released');
    const r1 = acquireLock(dir, 'meshgen synth --check', 'shared');
    const r2 = acquireLock(dir, 'meshgen validate', 'shared');
    r1.release();
    r2.release();
    assert.deepEqual(fs.readdirSync(dir), [], 'no lock file left');
  });

  test('a live reader of another process delays a writer until it is done', { skip: NO_LIB }, async () => {
    const dir = await makeMeshWorkdir(SPEC, { tokens: true });
    dirs.push(dir);
    // GIVEN another process reading the work directory for ~1.5 s
    const reader = `const l = require(${JSON.stringify(LIB_LOCK)}).acquireLock(process.argv[1], 'meshgen validate', 'shared'); console.log('held'); setTimeout(() => l.release(), 1500);`;
    const child = spawn(process.execPath, ['-e', reader, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
    // WHEN a synth starts THEN it waits for the reader, then succeeds
    const started = Date.now();
    const r = await synthIn(dir);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - started >= 1000, `synth waited for the reader (${Date.now() - started} ms)`);
  });
});

describe('a stale lock is taken over', () => {
  const cases: { name: string; skip?: string | false; lock: () => { h: Partial<LockHolder>; mtime?: Date } }[] = [
    { name: 'its process is gone (same host)', lock: () => ({ h: { pid: deadPid() } }) },
    {
      name: 'its PID now belongs to another process (start time differs)',
      skip: !PROC && 'no /proc',
      lock: () => ({ h: { pid: liveProcess(), start: '1' } }),
    },
    {
      name: 'it is from another host and was not refreshed for 10 minutes',
      lock: () => ({ h: { pid: process.pid, host: 'elsewhere.example' }, mtime: new Date(Date.now() - FOREIGN_STALE_MS - 60_000) }),
    },
  ];
  for (const c of cases) {
    test(`when ${c.name}`, { skip: c.skip }, async () => {
      const dir = await makeMeshWorkdir(SPEC, { tokens: true });
      dirs.push(dir);
      const { h, mtime } = c.lock();
      writeLock(dir, h, mtime);
      const r = await synthIn(dir);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(fs.existsSync(path.join(dir, 'dist', 'clusters', 'cluster-0')));
      assert.deepEqual(
        fs.readdirSync(dir).filter((n) => n.startsWith(LOCK_FILE)),
        [],
        'no lock file left',
      );
    });
  }

  test('but not a fresh lock of another host (exit 2 naming that host)', async () => {
    const dir = await makeMeshWorkdir(SPEC, { tokens: true });
    dirs.push(dir);
    writeLock(dir, { pid: process.pid, host: 'elsewhere.example', command: 'meshgen rotate' });
    const r = await synthIn(dir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /locked by `meshgen rotate` \(pid \d+ on host elsewhere\.example/);
    assert.ok(!fs.existsSync(path.join(dir, 'dist')), 'nothing written');
  });

  test('a stale reader (its process is gone) does not hold a writer back', async () => {
    const dir = await makeMeshWorkdir(SPEC, { tokens: true });
    dirs.push(dir);
    const pid = deadPid();
    const reader = path.join(dir, `${LOCK_FILE}.r-${pid}-x`);
    fs.writeFileSync(reader, JSON.stringify({ pid, host: os.hostname(), command: 'meshgen validate', since: 'x', token: 'x', mode: 'shared' }));
    const started = Date.now();
    const r = await synthIn(dir);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - started < 5000, 'no wait');
    assert.ok(!fs.existsSync(reader), 'the stale reader file is removed');
  });
});

describe('several synths at once on one work directory', { skip: NO_LIB }, () => {
  test('leave a whole tree that synth --check finds current; readers meanwhile never see a half-swapped tree', async () => {
    // GIVEN a synthesized mesh whose base.yaml then changes (every control-plane file changes), and the tree that a
    // single synth makes of it
    const dir = await makeMeshWorkdir(SPEC, { tokens: true });
    dirs.push(dir);
    assert.equal((await synthIn(dir)).code, 0);
    const newBase = `${BASE_YAML}  meshConfig:\n    accessLogFile: /dev/stdout\n`;
    const expected = tmp('meshgen-lock-expected-');
    fs.cpSync(dir, expected, { recursive: true });
    fs.writeFileSync(path.join(expected, 'base.yaml'), newBase);
    assert.equal((await synthIn(expected)).code, 0);
    const newTree = hashTree(path.join(expected, 'dist'));
    const controlPlanes = SPEC.clusters.flatMap((c) => [
      `dist/clusters/${c.cluster}/helm/istiod-values.yaml`,
      `dist/clusters/${c.cluster}/istioctl/control-plane.yaml`,
      `dist/flux/${c.cluster}/control-plane/releases.yaml`,
    ]);

    for (let round = 0; round < 3; round++) {
      fs.writeFileSync(path.join(dir, 'base.yaml'), round % 2 === 0 ? newBase : BASE_YAML);
      // WHEN four synths start at once (separate processes)
      const runs = Array.from(
        { length: 4 },
        () =>
          new Promise<{ code: number | null; stderr: string }>((resolve) => {
            const c = spawn(process.execPath, [BIN, 'synth', '--workdir', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
            children.push(c);
            let stderr = '';
            c.stderr?.on('data', (d) => {
              stderr += d;
            });
            // 'close', not 'exit': only then has all of stderr been read.
            c.on('close', (code) => resolve({ code, stderr }));
          }),
      );
      let done = false;
      const all = Promise.all(runs).finally(() => {
        done = true;
      });
      // ...while a reader checks the work directory again and again
      const seen: string[] = [];
      while (!done) {
        const r = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
        if (r.code === 2) assert.match(r.stderr, /is locked by/, 'a reader is refused only by the lock');
        else {
          // THEN a reader sees the old tree or the new one: at most the control-plane files differ, never a missing tree
          const listed = r.stdout
            .split('\n')
            .filter((l) => /^ {2}(added|changed|removed) /.test(l))
            .map((l) => l.trim());
          for (const l of listed)
            assert.ok(
              controlPlanes.some((p) => l === `changed  ${p}`),
              `round ${round + 1}: a reader saw ${l}`,
            );
          seen.push(String(r.code));
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      const results = await all;
      // THEN each synth completed or was refused by the lock, one at least completed...
      for (const r of results) {
        if (r.code !== 0) {
          assert.equal(r.code, 2, `round ${round + 1}: a synth failed otherwise:\n${r.stderr}`);
          assert.match(r.stderr, /is locked by `meshgen synth`/);
        }
      }
      assert.ok(
        results.some((r) => r.code === 0),
        `round ${round + 1}: one synth completed`,
      );
      // ...the tree is whole and current, and nothing is left over
      const check = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
      assert.equal(check.code, 0, `round ${round + 1}: synth --check after the runs:\n${check.stdout}`);
      if (round % 2 === 0) assert.deepEqual(hashTree(path.join(dir, 'dist')), newTree);
      assert.deepEqual(
        fs.readdirSync(dir).filter((n) => n.startsWith('.dist.meshgen-') || n.startsWith(LOCK_FILE)),
        [],
      );
    }
  });
});
