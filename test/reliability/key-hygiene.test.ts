/**
 * Key hygiene (issue 11, category 7): private keys readable by others are reported (synth warns, validate fails);
 * export-ca's directory is 0700; synth writes a private key only where .gitignore ignores it; the modes of what
 * meshgen writes hold under any umask.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, mock, test } from 'node:test';
import { GITIGNORE_LINES } from '../../src/commands/prep';
import { runCli } from '../helpers/cli';
import { useFixtureRsa2048Keys } from '../helpers/fixture-keys';
import { type MeshSpec, makeMeshWorkdir, synthIn } from '../helpers/mesh-gen';
import { modeOf } from '../helpers/snapshot';
import { makeExampleWorkdir, REPO_ROOT } from '../helpers/workdir';

// The 2048-bit intermediates synth issues in this process get fixture keys, each distinct (see useFixtureRsa2048Keys):
// what is tested is where and with which modes private keys are written, not key generation. (The synths run as child
// processes, under other umasks, generate theirs.)
useFixtureRsa2048Keys(mock);

const GIT = spawnSync('git', ['--version'], { stdio: 'ignore' }).error === undefined;
const LIB_MAIN = path.join(REPO_ROOT, 'lib', 'src', 'cli', 'main.js');
const POSIX = process.platform !== 'win32';

const SPEC: MeshSpec = {
  meshId: 'hygiene',
  clusters: [
    { context: 'ctx-a', cluster: 'cluster-a', network: 'net-1' },
    { context: 'ctx-b', cluster: 'cluster-b', network: 'net-2' },
  ],
};

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = (prefix: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
};

/** A synthesized mesh where cluster-b has no intermediate CA yet: the next synth creates one. */
async function meshNeedingKey(): Promise<string> {
  const dir = await makeMeshWorkdir(SPEC, { tokens: true });
  dirs.push(dir);
  for (const f of ['ca-key.pem', 'ca-cert.pem', 'cert-chain.pem', 'root-cert.pem']) fs.rmSync(path.join(dir, 'certs', 'cluster-b', f));
  return dir;
}

/** Modes that must hold whatever the umask, after a synth that created cluster-b's intermediate. */
function assertModes(dir: string, why: string): void {
  const m = (rel: string) => modeOf(path.join(dir, rel)).toString(8);
  assert.equal(m('certs/cluster-b/ca-key.pem'), '600', `${why}: the new key`);
  assert.equal(m('certs/cluster-b'), '700', `${why}: the directory of the new key`);
  for (const f of ['ca-cert.pem', 'cert-chain.pem', 'root-cert.pem']) assert.equal(m(`certs/cluster-b/${f}`), '644', `${why}: ${f}`);
  assert.equal(m('.gitignore'), '644', `${why}: .gitignore`);
  assert.equal(m('sealed/cluster-b.yaml'), '644', `${why}: the sealed store`);
  assert.equal(m('dist'), '755', `${why}: dist/`);
  assert.equal(m('dist/clusters/cluster-b'), '755', `${why}: dist/clusters/cluster-b/`);
  assert.equal(m('dist/clusters/cluster-b/secrets/cacerts.yaml'), '644', `${why}: a manifest`);
}

describe('private keys readable by group or others', { skip: !POSIX && 'file modes are POSIX' }, () => {
  test('validate fails (exit 1) naming certs/root-key.pem and certs/<cluster>/ca-key.pem with their modes; synth warns', async () => {
    // GIVEN the example with its keys, two of them readable by others
    const dir = makeExampleWorkdir({ withPrivateKeys: true });
    dirs.push(dir);
    const ok = await runCli(['validate', '--workdir', dir]);
    assert.equal(ok.code, 0, `the example validates: ${ok.stdout}`);
    fs.chmodSync(path.join(dir, 'certs', 'root-key.pem'), 0o644);
    fs.chmodSync(path.join(dir, 'certs', 'cluster-east-2', 'ca-key.pem'), 0o640);
    // WHEN validate runs THEN it fails, one problem per key, with the fix
    const v = await runCli(['validate', '--workdir', dir]);
    assert.equal(v.code, 1, v.stdout);
    assert.match(v.stdout, /^certs\/root-key\.pem: .*mode 0644: readable by group and others; fix: chmod 600 certs\/root-key\.pem/m);
    assert.match(v.stdout, /^certs\/cluster-east-2\/ca-key\.pem: .*mode 0640: readable by group; fix: chmod 600/m);
    assert.doesNotMatch(v.stdout, /cluster-east-1\/ca-key\.pem/);
    assert.doesNotMatch(v.stdout, /^warning: .*root-key/m, 'reported once, as a problem');
    // ...and synth warns (and still works)
    const s = await runCli(['synth', '--workdir', dir]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stderr, /warning: certs\/root-key\.pem: .*mode 0644/);
    assert.match(s.stderr, /warning: certs\/cluster-east-2\/ca-key\.pem: .*mode 0640/);
    // ...and once fixed, validate passes again
    fs.chmodSync(path.join(dir, 'certs', 'root-key.pem'), 0o600);
    fs.chmodSync(path.join(dir, 'certs', 'cluster-east-2', 'ca-key.pem'), 0o600);
    assert.equal((await runCli(['validate', '--workdir', dir])).code, 0);
  });
});

describe('export-ca --out', { skip: !POSIX && 'file modes are POSIX' }, () => {
  test('tightens an existing directory to 0700 and creates a new one 0700, whatever the umask', async () => {
    const dir = makeExampleWorkdir({ withPrivateKeys: true });
    dirs.push(dir);
    // GIVEN an existing, world-readable directory
    const existing = tmp('meshgen-export-');
    fs.chmodSync(existing, 0o755);
    const r = await runCli(['export-ca', '--cluster', 'cluster-east-1', '--out', existing, '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(modeOf(existing).toString(8), '700', 'the existing directory is tightened');
    assert.equal(modeOf(path.join(existing, 'ca-key.pem')).toString(8), '600');
    // GIVEN umask 0 and a directory that does not exist yet
    const fresh = path.join(tmp('meshgen-export-'), 'a', 'b');
    const old = process.umask(0);
    try {
      const r2 = await runCli(['export-ca', '--cluster', 'cluster-east-1', '--out', fresh, '--workdir', dir]);
      assert.equal(r2.code, 0, r2.stderr);
    } finally {
      process.umask(old);
    }
    assert.equal(modeOf(fresh).toString(8), '700');
    assert.equal(modeOf(path.join(fresh, 'ca-key.pem')).toString(8), '600');
    assert.equal(modeOf(path.join(fresh, 'ca-cert.pem')).toString(8), '644');
  });
});

describe('synth writes a private key only where .gitignore ignores it', () => {
  test('no .gitignore: synth creates it with the private-key lines before it writes the key', { skip: !GIT && 'git is not installed' }, async () => {
    const dir = await meshNeedingKey();
    assert.equal(spawnSync('git', ['init', '-q', dir]).status, 0);
    assert.ok(!fs.existsSync(path.join(dir, '.gitignore')));
    const r = await synthIn(dir);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.existsSync(path.join(dir, 'certs/cluster-b/ca-key.pem')));
    const status = spawnSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=all'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(status, /^\?\? certs\/.*(ca-key\.pem|root-key\.pem|reader-token)$/m, '`git add .` commits no private file');
    assert.equal(spawnSync('git', ['-C', dir, 'check-ignore', '-q', 'certs/cluster-b/ca-key.pem']).status, 0);
  });

  test('a .gitignore without the lines: they are appended, what it held is kept', async () => {
    const dir = await meshNeedingKey();
    fs.writeFileSync(path.join(dir, '.gitignore'), 'node_modules/\n*.log');
    const r = await synthIn(dir);
    assert.equal(r.code, 0, r.stderr);
    const gi = fs.readFileSync(path.join(dir, '.gitignore'), 'utf8');
    assert.ok(gi.startsWith('node_modules/\n*.log\n'), gi);
    for (const line of GITIGNORE_LINES) assert.ok(gi.split('\n').includes(line), `${line} in .gitignore`);
  });

  test('a synth that creates no key leaves .gitignore alone (absent stays absent)', async () => {
    const dir = await makeMeshWorkdir(SPEC, { tokens: true });
    dirs.push(dir);
    const r = await synthIn(dir);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!fs.existsSync(path.join(dir, '.gitignore')));
  });
});

describe('modes hold under any umask', { skip: !POSIX && 'file modes are POSIX' }, () => {
  test('umask 0 (in-process): keys 0600 in 0700 directories, public files 0644, directories of dist/ 0755', async () => {
    const dir = await meshNeedingKey();
    const old = process.umask(0);
    let r: Awaited<ReturnType<typeof synthIn>>;
    try {
      r = await synthIn(dir);
    } finally {
      process.umask(old);
    }
    assert.equal(r.code, 0, r.stderr);
    assertModes(dir, 'umask 0');
  });

  test(
    'umask 077 (child process): public files stay 0644, dist/ directories 0755',
    { skip: !fs.existsSync(LIB_MAIN) && 'lib/ is not built' },
    async () => {
      const dir = await meshNeedingKey();
      const script = `process.umask(0o077); require(${JSON.stringify(LIB_MAIN)}).main(process.argv.slice(1)).then((c) => { process.exitCode = c; });`;
      const r = spawnSync(process.execPath, ['-e', script, 'synth', '--ca-key-size', '2048', '--workdir', dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assertModes(dir, 'umask 077');
    },
  );
});
