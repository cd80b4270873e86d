/**
 * `meshgen init` as a new user runs it: a repository of its own that depends on this checkout (`--from`), installed
 * with npm; there the generated package.json scripts (`npm run synth`, `npm run check`) and `meshgen validate` work,
 * and git holds no private key. Also: prep refuses a mesh id other than topology.yaml's, naming the fix.
 */
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { meshgenDependency } from '../../src/commands/init';
import { runCli } from '../helpers/cli';
import { apiServerCaData, meshPki } from '../helpers/mesh-gen';
import { hashTree, makeExampleWorkdir, REPO_ROOT } from '../helpers/workdir';

const GIT = spawnSync('git', ['--version'], { stdio: 'ignore' }).error === undefined;
const NPM = spawnSync('npm', ['--version'], { stdio: 'ignore' }).error === undefined;

const temps: string[] = [];
const tempDir = (prefix: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(d);
  return d;
};
after(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * The environment of the commands run in the new repository: without the `npm_*` variables of an enclosing
 * `npm test` (npm_config_local_prefix would point the inner npm at this checkout) and without git's repository
 * variables.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && !/^GIT_(DIR|WORK_TREE|INDEX_FILE)$/.test(k)) env[k] = v;
  return env;
}

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env: childEnv(), encoding: 'utf8', timeout: 120_000 });
}

const shown = (r: SpawnSyncReturns<string>) => `exit ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}${r.error ? `\n${r.error}` : ''}`;

/** Runs `fn` with git reading no global or system configuration: as on a machine where git has no identity. */
async function withoutGitIdentity<T>(fn: () => Promise<T>): Promise<T> {
  const empty = path.join(tempDir('meshgen-gitconfig-'), 'gitconfig');
  fs.writeFileSync(empty, '');
  const saved = { GIT_CONFIG_GLOBAL: process.env.GIT_CONFIG_GLOBAL, GIT_CONFIG_NOSYSTEM: process.env.GIT_CONFIG_NOSYSTEM };
  process.env.GIT_CONFIG_GLOBAL = empty;
  process.env.GIT_CONFIG_NOSYSTEM = '1';
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('meshgen init: a GitOps repository of its own, depending on meshgen', () => {
  let dir: string;

  before(() => {
    // The new repository runs this checkout's bin/meshgen, i.e. lib/ (`npm test` compiles it first, in pretest).
    if (!fs.existsSync(path.join(REPO_ROOT, 'lib', 'src', 'cli', 'main.js'))) {
      const r = run(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], REPO_ROOT);
      assert.equal(r.status, 0, shown(r));
    }
    dir = path.join(tempDir('meshgen-init-'), 'my-mesh');
  });

  test('init writes the project, the mesh inputs and the root CA, and commits all but the private key', async () => {
    const r = await withoutGitIdentity(() =>
      runCli(['init', dir, '--mesh-id', 'mymesh', '--org', 'Example Org', '--from', REPO_ROOT, '--key-size', '2048']),
    );
    assert.equal(r.code, 0, r.stderr);
    for (const f of [
      'package.json',
      'cdk8s.yaml',
      'tsconfig.json',
      'meshgen.config.ts',
      'topology.yaml',
      'base.yaml',
      'certs/root-cert.pem',
      'certs/root-key.pem',
      '.gitignore',
      '.github/workflows/synth.yml',
      'README.md',
    ]) {
      assert.match(r.stdout, new RegExp(`^created {2}${f.replaceAll('.', '\\.')}$`, 'm'), f);
      assert.ok(fs.existsSync(path.join(dir, f)), `${f} exists`);
    }
    assert.match(r.stderr, /warning: package\.json depends on meshgen at a local path/);

    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    assert.equal(pkg.name, 'my-mesh');
    assert.deepEqual(pkg.dependencies, { meshgen: `file:${REPO_ROOT}` });
    assert.equal(pkg.scripts.synth, 'meshgen synth');
    assert.equal(pkg.scripts.check, 'meshgen synth --check --frozen');
    assert.equal(pkg.scripts.plan, 'meshgen plan');
    const topology = fs.readFileSync(path.join(dir, 'topology.yaml'), 'utf8');
    assert.match(topology, /^mesh_id: mymesh$/m);
    assert.match(topology, /^# yaml-language-server: \$schema=node_modules\/meshgen\/schema\/topology\.schema\.json$/m);
    assert.equal(fs.statSync(path.join(dir, 'certs/root-key.pem')).mode & 0o777, 0o600);
    const gitignore = fs.readFileSync(path.join(dir, '.gitignore'), 'utf8').split('\n');
    for (const l of ['node_modules/', 'certs/root-key.pem', 'certs/*/ca-key.pem', 'certs/*/reader-token']) assert.ok(gitignore.includes(l), l);
    const workflow = parse(fs.readFileSync(path.join(dir, '.github/workflows/synth.yml'), 'utf8'));
    assert.ok('pull_request' in workflow.on);
    assert.ok(workflow.jobs.check.steps.some((s: { run?: string }) => s.run === 'npm run check'));
    assert.match(workflow.jobs.regenerate.if, /vars\.MESHGEN_AUTOCOMMIT == 'true'/);
    const config = fs.readFileSync(path.join(dir, 'meshgen.config.ts'), 'utf8');
    // The extension hook, exporting a function that adds nothing (its examples commented out).
    assert.match(config, /^import type \{ ExtendFunction \} from 'meshgen';$/m);
    assert.match(config, /^export default extend;$/m);
    assert.ok(!/^\s*new /m.test(config), 'meshgen.config.ts adds nothing until edited');

    if (!GIT) {
      assert.match(r.stderr, /git is not installed/);
      return;
    }
    assert.match(r.stdout, /^git: initialized the repository; first commit [0-9a-f]+ \(author meshgen <meshgen@localhost>/m);
    const files = run('git', ['ls-files'], dir).stdout.trim().split('\n');
    assert.ok(
      files.includes('certs/root-cert.pem') && files.includes('package.json') && files.includes('.github/workflows/synth.yml'),
      files.join(' '),
    );
    assert.deepEqual(
      files.filter((f) => /key\.pem$|reader-token$/.test(f) || fs.readFileSync(path.join(dir, f), 'utf8').includes('PRIVATE KEY')),
      [],
      'no private key in git',
    );
    assert.equal(run('git', ['status', '--porcelain'], dir).stdout, '', 'everything but the ignored files is committed');
    assert.equal(
      run('git', ['log', '--format=%an <%ae>|%s'], dir).stdout.trim(),
      'meshgen <meshgen@localhost>|Start the Istio mesh mymesh (meshgen init)',
    );
  });

  test('init refuses the directory it made (not empty any more), and changes nothing', async () => {
    const before = hashTree(dir);
    const r = await runCli(['init', dir, '--mesh-id', 'mymesh', '--org', 'Example Org', '--from', REPO_ROOT]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /is not empty .*fix: .*--force/);
    assert.deepEqual(hashTree(dir), before);
  });

  test(
    'installed, the mesh synthesizes with `npm run synth`, passes `npm run check` and `meshgen validate`',
    { skip: !NPM && 'npm is not installed' },
    async () => {
      // A real `npm install`. A file: dependency is a symlink to this checkout and needs no registry (--offline).
      // --ignore-scripts: npm would otherwise run meshgen's `prepare` (tsc) on the checkout, 15-30 s, to rebuild the lib/
      // that `npm test` has just built.
      const install = run('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], dir);
      assert.equal(install.status, 0, shown(install));
      assert.equal(fs.realpathSync(path.join(dir, 'node_modules', 'meshgen')), fs.realpathSync(REPO_ROOT));
      const meshgen = path.join(dir, 'node_modules', '.bin', 'meshgen');
      assert.ok(fs.existsSync(meshgen), 'node_modules/.bin/meshgen');
      assert.ok(fs.existsSync(path.join(dir, 'package-lock.json')));

      // Two clusters on two networks, each with its Sealed Secrets certificate (as `kubeseal --fetch-cert` gives it).
      const { sealing } = await meshPki();
      const ca = await apiServerCaData();
      fs.mkdirSync(path.join(dir, 'sealing-certs'));
      const contexts = ['east', 'west']
        .map((c) => {
          fs.writeFileSync(path.join(dir, 'sealing-certs', `${c}.pem`), sealing.certPem);
          return `  ctx-${c}:\n    cluster: ${c}\n    network: net-${c}\n    server: https://${c}.example.com:6443\n    certificateAuthorityData: ${ca}\n`;
        })
        .join('');
      const topology = path.join(dir, 'topology.yaml');
      fs.writeFileSync(topology, fs.readFileSync(topology, 'utf8').replace('# add your clusters here\n', contexts));

      const synth = run('npm', ['run', 'synth', '--', '--ca-key-size', '2048'], dir);
      assert.equal(synth.status, 0, shown(synth));
      for (const c of ['east', 'west']) assert.ok(fs.existsSync(path.join(dir, 'dist', 'clusters', c, 'secrets', 'cacerts.yaml')), c);

      const check = run('npm', ['run', 'check'], dir);
      assert.equal(check.status, 0, shown(check));
      assert.match(check.stdout, /dist\/ and sealed\/ are up to date/);

      const validate = run(meshgen, ['validate'], dir);
      assert.equal(validate.status, 0, shown(validate));
      assert.match(validate.stdout, /^validate: ok/m);

      // The check is real: a hand edit of dist/ fails it.
      const ns = path.join(dir, 'dist', 'clusters', 'east', 'secrets', 'namespace.yaml');
      fs.appendFileSync(ns, '# edited\n');
      const stale = run('npm', ['run', 'check'], dir);
      assert.equal(stale.status, 1, shown(stale));
      assert.match(stale.stdout, /changed {2}dist\/clusters\/east\/secrets\/namespace\.yaml/);
      fs.writeFileSync(ns, fs.readFileSync(ns, 'utf8').replace('# edited\n', ''));

      if (!GIT) return;
      // What the user commits next: the intermediates' keys stay out too.
      const add = run('git', ['add', '-A'], dir);
      assert.equal(add.status, 0, shown(add));
      const files = run('git', ['ls-files'], dir).stdout.trim().split('\n');
      assert.ok(files.includes('package-lock.json') && files.includes('certs/east/ca-cert.pem') && files.some((f) => f.startsWith('dist/')));
      assert.deepEqual(
        files.filter((f) => /key\.pem$|reader-token$/.test(f)),
        [],
      );
    },
  );
});

describe('meshgen init: --from', () => {
  test('nothing: a caret range on this meshgen version; versions, tags and git URLs as given; a checkout as file:', () => {
    const own = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version;
    assert.deepEqual(meshgenDependency(undefined, '/'), { spec: `^${own}`, kind: 'registry' });
    assert.deepEqual(meshgenDependency('1.2.0', '/'), { spec: '1.2.0', kind: 'registry' });
    assert.deepEqual(meshgenDependency('~1.2.3', '/'), { spec: '~1.2.3', kind: 'registry' });
    assert.deepEqual(meshgenDependency('meshgen@^2.0', '/'), { spec: '^2.0', kind: 'registry' });
    assert.deepEqual(meshgenDependency('latest', '/'), { spec: 'latest', kind: 'registry' });
    for (const git of ['git+https://github.com/example/meshgen.git#v0.1.0', 'github:example/meshgen#main', 'git@github.com:example/meshgen.git']) {
      assert.deepEqual(meshgenDependency(git, '/'), { spec: git, kind: 'git' });
    }
    assert.deepEqual(meshgenDependency('example/meshgen#v1', os.tmpdir()), { spec: 'example/meshgen#v1', kind: 'git' });
    assert.deepEqual(meshgenDependency(REPO_ROOT, '/'), { spec: `file:${REPO_ROOT}`, kind: 'path' });
    assert.deepEqual(meshgenDependency('.', REPO_ROOT), { spec: `file:${REPO_ROOT}`, kind: 'path' });
    assert.deepEqual(meshgenDependency(`file:${REPO_ROOT}`, '/'), { spec: `file:${REPO_ROOT}`, kind: 'path' });
    assert.throws(() => meshgenDependency('./no-such-dir', os.tmpdir()), /--from: "\.\/no-such-dir" does not exist/);
    assert.throws(() => meshgenDependency(os.tmpdir(), '/'), /is not a meshgen checkout/);
    assert.throws(() => meshgenDependency('what ever!', '/'), /is neither a version, a git URL nor a path/);
  });

  test('a failed init leaves nothing behind: no directory, no partial scaffold', async () => {
    const parent = tempDir('meshgen-init-fail-');
    const r = await runCli(['init', path.join(parent, 'x'), '--mesh-id', 'x', '--org', 'o', '--from', path.join(parent, 'nowhere')]);
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(fs.readdirSync(parent), []);
  });

  test('--no-git writes the files and creates no repository', async () => {
    const d = path.join(tempDir('meshgen-init-nogit-'), 'm');
    const r = await runCli(['init', d, '--mesh-id', 'm', '--org', 'o', '--from', REPO_ROOT, '--key-size', '2048', '--no-git']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^git: skipped \(--no-git\)$/m);
    assert.ok(!fs.existsSync(path.join(d, '.git')));
    assert.ok(fs.existsSync(path.join(d, 'certs', 'root-key.pem')));
  });
});

describe('prep with another mesh id than topology.yaml', () => {
  test('elsewhere: exit 2, naming the existing mesh id and the fix; nothing written', async () => {
    const dir = makeExampleWorkdir();
    temps.push(dir);
    const before = hashTree(dir);
    const r = await runCli(['prep', '--mesh-id', 'mymesh', '--org', 'example.com', '--workdir', dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /topology\.yaml:\d+:\d+: mesh_id: the mesh ID is "mymeshname", not "mymesh"/);
    assert.match(r.stderr, /fix: pass --mesh-id mymeshname .*a new directory \(or `meshgen init <dir>`\)/);
    assert.deepEqual(hashTree(dir), before);
    // The same mesh id: kept, as before.
    const same = await runCli(['prep', '--mesh-id', 'mymeshname', '--org', 'example.com', '--workdir', dir]);
    assert.equal(same.code, 0, same.stderr);
  });

  test("in meshgen's own repository (the bundled example): the fix is `meshgen init`", async () => {
    const dir = makeExampleWorkdir();
    temps.push(dir);
    fs.copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(dir, 'package.json'));
    const r = await runCli(['prep', '--mesh-id', 'mymesh', '--org', 'example.com', '--workdir', dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /meshgen's own repository.*`npx meshgen init \.\.\/mymesh --mesh-id mymesh --org example\.com`/);
    assert.ok(!fs.existsSync(path.join(dir, 'certs', 'root-key.pem')), 'no root key was created');
  });
});

test('init --key-algorithm ecdsa-p256: an ECDSA root, and pki.keyAlgorithm for the intermediates', async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-init-ec-'));
  const dir = path.join(parent, 'mesh');
  const r = await runCli(['init', dir, '--mesh-id', 'ec', '--org', 'example.com', '--key-algorithm', 'ecdsa-p256', '--no-git']);
  assert.equal(r.code, 0, r.stderr);
  const key = crypto.createPrivateKey(fs.readFileSync(path.join(dir, 'certs', 'root-key.pem')));
  assert.equal(key.asymmetricKeyType, 'ec');
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(parse(fs.readFileSync(path.join(dir, 'topology.yaml'), 'utf8')).pki.keyAlgorithm, 'ecdsa-p256');
  fs.rmSync(parent, { recursive: true });
});
