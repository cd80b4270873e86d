/**
 * Hostile input that the bad-input corpus cannot express (FIFOs, huge files, mocked I/O failures, stdin floods), and
 * the helpers behind the corpus' messages: secrets in plain fields, quoting of bad values, I/O error messages.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { after, mock, test } from 'node:test';
import { describeIoError } from '../src/cli/main';
import { show } from '../src/errors';
import { READ_LIMITS, readBounded } from '../src/fs-util';
import { maskUrl, plainSecretIn } from '../src/plain-secrets';
import { sealingCertFix } from '../src/secrets/sealing-cert';
import { runCli } from './helpers/cli';
import { useFixtureRsa4096Keys } from './helpers/fixture-keys';
import { urlsWithCredentials } from './helpers/no-secrets';
import { hashTree, makeExampleWorkdir } from './helpers/workdir';

/** The `node:fs` module object itself, whose methods the code under test calls (a namespace import is a copy). */
const realFs: typeof fs = createRequire(__filename)('node:fs');

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function example(withPrivateKeys = false): string {
  const dir = makeExampleWorkdir({ withPrivateKeys });
  dirs.push(dir);
  return dir;
}

const noStackTrace = (stderr: string) => assert.ok(!stderr.split('\n').some((l) => /^\s+at /.test(l)), `stack trace in stderr:\n${stderr}`);

// --- secrets in plain fields -------------------------------------------------------------------------------------

test('plainSecretIn: credentials in URLs and private keys are found; ssh login names and plain URLs are not', () => {
  assert.equal(plainSecretIn('https://user:pw@host:6443')?.kind, 'url-userinfo');
  assert.equal(plainSecretIn('https://ghp_token@github.com/o/r.git')?.kind, 'url-userinfo');
  assert.equal(plainSecretIn('https://host/?access_token=abc')?.kind, 'url-token');
  assert.equal(plainSecretIn('https://host/path?ref=main&X-Amz-Signature=abc')?.kind, 'url-token');
  assert.equal(plainSecretIn('ssh://git:pw@github.com/o/r.git')?.kind, 'url-userinfo');
  assert.equal(
    plainSecretIn(Buffer.from('-----BEGIN CERTIFICATE-----\n...\n-----BEGIN EC PRIVATE KEY-----\nMHcC\n').toString('base64'))?.kind,
    'private-key',
  );
  for (const ok of [
    'ssh://git@github.com/o/r.git',
    'git@github.com:o/r.git',
    'https://github.com/o/r.git?ref=main',
    'https://10.0.0.1:6443',
    'mesh-1',
  ]) {
    assert.equal(plainSecretIn(ok), undefined, ok);
  }
  const exampleCa = /certificateAuthorityData: (\S+)/.exec(fs.readFileSync(path.join(__dirname, '..', 'topology.yaml'), 'utf8'))?.[1] as string;
  assert.equal(plainSecretIn(exampleCa), undefined, 'a CA certificate alone is no secret');
});

test('maskUrl shows where the secret was, never the secret', () => {
  assert.equal(maskUrl('https://admin:hunter2@api.example.com:6443/x'), 'https://***@api.example.com:6443/x');
  assert.equal(maskUrl('https://h/r.git?ref=main&access_token=glpat-1'), 'https://h/r.git?ref=main&access_token=***');
  assert.ok(maskUrl(`https://u:p@${'h'.repeat(500)}`).length <= 80);
});

test('the secret-scan helper of the tests finds URLs with credentials (it can fail)', () => {
  assert.deepEqual(urlsWithCredentials('server: https://u:p@h:6443\nrepoURL: https://tok@github.com/o/r\nx: https://h/?token=t'), [
    'https://u:p@h:6443',
    'https://tok@github.com/o/r',
    'https://h/?token=t',
  ]);
  assert.deepEqual(urlsWithCredentials('repoURL: ssh://git@github.com/o/r.git\nserver: https://h:6443'), []);
});

test('show() escapes terminal controls, masks URL credentials, hides keys and tokens, and caps the length', () => {
  assert.equal(show('a\u001b[2Jb\u0085c\u2028d'), '"a\\u001b[2Jb\\u0085c\\u2028d"');
  assert.equal(show('https://u:secret@host/x'), '"https://***@host/x"');
  assert.match(show('-----BEGIN RSA PRIVATE KEY-----\nMIIE'), /not shown/);
  assert.match(show('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig'), /not shown/);
  assert.ok(show('x'.repeat(10_000_000)).length <= 80);
});

// --- bounded reads -----------------------------------------------------------------------------------------------

test('readBounded refuses directories, devices, FIFOs and files over the limit, and reads at most limit + 1 bytes', () => {
  const dir = example();
  const big = path.join(dir, 'big');
  fs.writeFileSync(big, 'x'.repeat(2000));
  assert.throws(() => readBounded(big, { limit: 1000 }), /over the limit of 1000 bytes/);
  assert.equal(readBounded(big, { limit: 2000 }).length, 2000);
  assert.throws(() => readBounded(dir, { limit: 10 }), /a directory, not a regular file/);
  assert.throws(() => readBounded('/dev/zero', { limit: 10 }), /a character device, not a regular file/);
  assert.throws(() => readBounded(path.join(dir, 'missing'), { limit: 10 }), { code: 'ENOENT' });
});

test('fails when topology.yaml is a FIFO: exit 2 at once, instead of waiting for a writer', async () => {
  // GIVEN topology.yaml replaced by a named pipe nobody writes to
  const dir = example();
  fs.rmSync(path.join(dir, 'topology.yaml'));
  execFileSync('mkfifo', [path.join(dir, 'topology.yaml')]);

  // WHEN
  const r = await runCli(['synth', '--workdir', dir]);

  // THEN
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /topology\.yaml: topology\.yaml is a FIFO \(named pipe\), not a regular file; fix: /);
  noStackTrace(r.stderr);
});

test('fails when topology.yaml is 50 MB of garbage: refused by size, with a short message', async () => {
  // GIVEN
  const dir = example();
  const before = hashTree(path.join(dir, 'dist'));
  const garbage = Buffer.alloc(50 * 1024 * 1024, 'x: [{"');
  fs.writeFileSync(path.join(dir, 'topology.yaml'), garbage);

  // WHEN
  const r = await runCli(['synth', '--workdir', dir]);

  // THEN
  assert.equal(r.code, 2);
  assert.match(r.stderr, /topology\.yaml: topology\.yaml is 50 MiB, over the limit of 1 MiB/);
  assert.ok(r.stderr.length < 500, `stderr is ${r.stderr.length} characters`);
  assert.deepEqual(hashTree(path.join(dir, 'dist')), before);
});

test('fails when topology.yaml is garbage just under the limit: at most a few short lines of YAML errors', async () => {
  const dir = example();
  const line = `${'x: [{"a\u0000\u001b]0;t\u0007'.repeat(2000)}\n`;
  fs.writeFileSync(path.join(dir, 'topology.yaml'), line.repeat(Math.floor(READ_LIMITS.yaml / Buffer.byteLength(line))));

  const r = await runCli(['synth', '--workdir', dir]);

  assert.equal(r.code, 2);
  assert.ok(r.stderr.length < 8000, `stderr is ${r.stderr.length} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for raw control characters is the point
  assert.doesNotMatch(r.stderr, /[\u0000\u0007\u001b]/, 'raw control characters in stderr');
  noStackTrace(r.stderr);
});

test('fails when the token piped into seal-token is over 16 KiB, writing nothing', async () => {
  const dir = example(true);
  const before = hashTree(dir);

  const r = await runCli(['seal-token', '--context', 'context-east-1', '--workdir', dir], 'a'.repeat(20 * 1024));

  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /stdin: the token read from stdin is over the limit of 16 KiB/);
  assert.deepEqual(hashTree(dir), before);
});

test('fails when a --token-dir file is over 16 KiB', async () => {
  const dir = example(true);
  const tokens = path.join(dir, 'tokens');
  fs.mkdirSync(tokens);
  fs.writeFileSync(path.join(tokens, 'context-east-1.token'), 'a'.repeat(17 * 1024));

  const r = await runCli(['seal-token', '--token-dir', tokens, '--workdir', dir]);

  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /context-east-1\.token: the token file is 17 KiB, over the limit of 16 KiB/);
});

// --- keys named like Object.prototype properties -----------------------------------------------------------------

test('helm installer: components.pilot.k8s.toString in base.yaml is a warning (no chart equivalent), not a crash', async () => {
  const dir = example();
  fs.writeFileSync(
    path.join(dir, 'topology.yaml'),
    fs.readFileSync(path.join(dir, 'topology.yaml'), 'utf8').replace('istio:\n  version: 1.30.3\n', 'istio:\n  version: 1.30.3\n  installer: helm\n'),
  );
  fs.appendFileSync(path.join(dir, 'base.yaml'), '  components:\n    pilot:\n      k8s:\n        toString: 1\n        valueOf: 2\n');

  const r = await runCli(['synth', '--check', '--workdir', dir]);

  assert.notEqual(r.code, 3, r.stderr);
  assert.match(r.stderr, /warning: base\.yaml spec\.components\.pilot\.k8s\.toString: has no equivalent in the istiod chart values/);
  noStackTrace(r.stderr);
});

// --- I/O errors while writing ------------------------------------------------------------------------------------

function ioError(code: string, syscall: string, file?: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${syscall}${file ? ` '${file}'` : ''}`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  if (file !== undefined) e.path = file;
  return e;
}

test('describeIoError names the file and says disk full / read-only file system / permission denied', () => {
  assert.match(
    describeIoError(ioError('ENOSPC', 'write', '/w/dist/a.yaml')),
    /^\/w\/dist\/a\.yaml: cannot write \(disk full, ENOSPC; write failed\); fix: free some disk space/,
  );
  assert.match(
    describeIoError(ioError('EROFS', 'open', '/w/sealed/x.yaml')),
    /^\/w\/sealed\/x\.yaml: cannot write \(read-only file system, EROFS; open failed\); fix: .*writable/,
  );
  assert.match(
    describeIoError(ioError('EACCES', 'open', '/w/topology.yaml')),
    /^\/w\/topology\.yaml: cannot read \(permission denied, EACCES; open failed\); fix: check the permissions/,
  );
});

for (const [code, words] of [
  ['ENOSPC', 'disk full'],
  ['EROFS', 'read-only file system'],
  ['EACCES', 'permission denied'],
] as const) {
  test(`fails with exit 2 when writing dist/ hits ${code}: names the file, says "${words}", no stack trace`, async (t) => {
    // GIVEN a synth that has one file of dist/ to write, and a file system that refuses writes
    const dir = example();
    fs.rmSync(path.join(dir, 'dist', 'argocd', 'applicationset.yaml'));
    const openSync = fs.openSync;
    t.after(() => mock.restoreAll());
    // Files are created with open(2) and an explicit mode (exact under any umask); the tree is staged beside dist/.
    mock.method(realFs, 'openSync', (file: fs.PathLike, flags?: fs.OpenMode, ...rest: unknown[]) => {
      // As Node reports a failed write(2): no path.
      if (String(file).startsWith(path.join(dir, '.dist')) && flags === 'w') throw ioError(code, code === 'ENOSPC' ? 'write' : 'open');
      return (openSync as (...a: unknown[]) => number)(file, flags, ...rest);
    });

    // WHEN
    const r = await runCli(['synth', '--workdir', dir]);

    // THEN
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^error:\\n  ${dir}/dist/argocd/applicationset\\.yaml: cannot write \\(${words}, ${code}; `));
    assert.match(r.stderr, /; fix: /);
    noStackTrace(r.stderr);
  });
}

test('teardown on a read-only file system names teardown.yaml, not the temporary it writes first', async (t) => {
  const dir = example();
  t.after(() => mock.restoreAll());
  const openSync = fs.openSync;
  mock.method(realFs, 'openSync', (file: fs.PathLike, flags?: fs.OpenMode, ...rest: unknown[]) => {
    // Every file meshgen writes in the work directory, but its lock (taken first, on a file system that allows it).
    if (String(file).startsWith(dir) && flags === 'w' && !String(file).includes('.meshgen.lock')) throw ioError('EROFS', 'open', String(file));
    return (openSync as (...a: unknown[]) => number)(file, flags, ...rest);
  });

  const r = await runCli(['teardown', '--workdir', dir]);

  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`  ${dir}/teardown\\.yaml: cannot write \\(read-only file system, EROFS; open failed\\)`));
  assert.ok(!fs.readdirSync(dir).some((f) => f.includes('meshgen-tmp')), 'a temporary file was left behind');
});

// --- messages that help ------------------------------------------------------------------------------------------

test('the kubeseal --fetch-cert redirect is suggested only for a path inside the work directory', () => {
  assert.match(sealingCertFix('sealing-certs/a.pem', 'ctx', 'a'), /--fetch-cert > sealing-certs\/a\.pem`$/);
  for (const outside of ['/etc/passwd', '../other/a.pem', '/dev/zero']) {
    const fix = sealingCertFix(outside, 'ctx', 'a');
    assert.ok(!fix.includes(`> ${outside}`), fix);
    assert.match(fix, /outside the work directory .*> sealing-certs\/a\.pem` and set contexts\.ctx\.sealingCert: sealing-certs\/a\.pem/);
  }
});

test('a file of many YAML syntax errors is reported in a few lines', async () => {
  const dir = example();
  fs.writeFileSync(path.join(dir, 'topology.yaml'), '- ]\n: x\n'.repeat(500));
  const r = await runCli(['synth', '--workdir', dir]);
  assert.equal(r.code, 2);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('  '));
  assert.ok(lines.length <= 21, `${lines.length} lines:\n${r.stderr}`);
});

test('clusters named "a" and "helm-a" (helm installer) synthesize: their entry-point charts do not collide', async (t) => {
  // GIVEN cluster names where one is another with a construct-id prefix in front (new clusters: synth issues their
  // intermediates, over fixture keys instead of two fresh RSA-4096 keys)
  const fixtureKeys = useFixtureRsa4096Keys(t);
  const dir = example(true);
  const topology = fs
    .readFileSync(path.join(dir, 'topology.yaml'), 'utf8')
    .replace('cluster: cluster-east-1', 'cluster: a')
    .replace('cluster: cluster-east-2', 'cluster: helm-a')
    .replace('istio:\n  version: 1.30.3\n', 'istio:\n  version: 1.30.3\n  installer: helm\n');
  fs.writeFileSync(path.join(dir, 'topology.yaml'), topology);
  fs.copyFileSync(path.join(dir, 'sealing-certs', 'cluster-east-1.pem'), path.join(dir, 'sealing-certs', 'a.pem'));
  fs.copyFileSync(path.join(dir, 'sealing-certs', 'cluster-east-2.pem'), path.join(dir, 'sealing-certs', 'helm-a.pem'));

  // WHEN
  const r = await runCli(['synth', '--workdir', dir]);

  // THEN
  assert.equal(r.code, 0, r.stderr);
  for (const c of ['a', 'helm-a']) assert.ok(fs.existsSync(path.join(dir, 'dist', 'flux', c, 'control-plane', 'releases.yaml')), c);
  assert.equal(fixtureKeys(), 2, 'two new intermediates, of RSA-4096 keys');
});
