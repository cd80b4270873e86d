/**
 * `meshgen validate` on copies of the example mesh: clean as shipped, and each kind of problem flagged with its file,
 * what is wrong and the fix.
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, mock, test } from 'node:test';
import { synth } from '../../src/commands/synth';
import { type ValidateResult, validate } from '../../src/commands/validate';
import { formatProblem } from '../../src/errors';
import { CertStore, createIntermediateCa, createRootCa } from '../../src/pki';
import { type CliResult, runCli } from '../helpers/cli';
import { useFixtureRsa2048Keys } from '../helpers/fixture-keys';
import { makeExampleWorkdir } from '../helpers/workdir';

// The 2048-bit keys of the certificates these tests issue (expired, expiring) are fixture keys, each distinct.
useFixtureRsa2048Keys(mock);

const DAY_MS = 24 * 60 * 60 * 1000;
const GATEWAY = 'dist/clusters/cluster-east-1/post-install/cross-network-gateway.yaml';
const CACERTS = 'dist/clusters/cluster-east-1/secrets/cacerts.yaml';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh copy of the example work directory, removed after the tests. */
function example(withPrivateKeys = false): string {
  const dir = makeExampleWorkdir({ withPrivateKeys });
  dirs.push(dir);
  return dir;
}

function edit(dir: string, rel: string, fn: (text: string) => string): void {
  const file = path.join(dir, rel);
  const before = fs.readFileSync(file, 'utf8');
  const text = fn(before);
  assert.notEqual(text, before, `the edit of ${rel} changed nothing`);
  fs.writeFileSync(file, text);
}

/** The problems as the command prints them. */
function lines(r: ValidateResult): string[] {
  return r.problems.map(formatProblem);
}

/** Expects exactly one problem line matching every pattern. */
function assertProblem(r: ValidateResult, ...patterns: RegExp[]): string {
  const found = lines(r).filter((l) => patterns.every((p) => p.test(l)));
  assert.equal(found.length, 1, `expected one problem matching ${patterns.join(' and ')}, got:\n${lines(r).join('\n')}`);
  return found[0];
}

/** Replaces the intermediate CA of a cluster by one valid for `days`, and reseals dist/ so that only its expiry differs. */
async function replaceIntermediate(dir: string, cluster: string, days: number): Promise<void> {
  const root = {
    certPem: fs.readFileSync(path.join(dir, 'certs', 'root-cert.pem'), 'utf8'),
    keyPem: fs.readFileSync(path.join(dir, 'certs', 'root-key.pem'), 'utf8'),
  };
  const files = await createIntermediateCa({ org: 'meshgen example', cluster, root, keySize: 2048, days });
  new CertStore(dir).writeIntermediate(cluster, files);
  await synth({ workdir: dir });
}

/** A Sealed Secrets certificate valid from `from` for `days`. */
async function sealingCert(from: Date, days: number): Promise<string> {
  return (await createRootCa({ org: 'sealed-secret', keySize: 2048, days, now: from })).certPem;
}

/** Runs `meshgen <args>` (validate) in-process. */
const runValidate = (args: readonly string[]): Promise<CliResult> => runCli(args);

test('the example mesh validates clean', async () => {
  const dir = example();
  const r = await validate({ workdir: dir });
  assert.deepEqual(lines(r), []);
  assert.deepEqual(r.warnings, []);
  // The root, three intermediates and three sealing certificates.
  assert.equal(r.stats.certificates, 7);
  assert.ok(r.stats.files > 0);
  // The schemas ship with meshgen: the manifests are always checked against them.
  assert.ok(r.stats.manifests > 0, 'manifests were checked against schemas');
  assert.deepEqual(
    r.notes.filter((n) => /schema checks were skipped/.test(n)),
    [],
  );

  const cli = await runValidate(['validate', '--workdir', dir]);
  assert.equal(cli.code, 0, cli.stdout + cli.stderr);
  assert.match(cli.stdout, /^validate: ok \(checked 7 certificates, \d+ manifests against schemas\)\n$/m);
});

test('fails when an intermediate CA expires within --warn-days (default 30), naming the file, date, days and rotate', async () => {
  // GIVEN an intermediate valid for 10 more days, everything else current
  const dir = example(true);
  await replaceIntermediate(dir, 'cluster-east-1', 10);

  // WHEN
  const r = await validate({ workdir: dir });

  // THEN exactly that certificate is flagged
  const notAfter = new Date(Date.now() + 10 * DAY_MS).toISOString().slice(0, 10);
  const line = assertProblem(r, /^certs\/cluster-east-1\/ca-cert\.pem: /, /expires on /, /in (9|10) days/, /within --warn-days 30/);
  assert.ok(line.includes(notAfter) || line.includes(new Date(Date.now() + 9 * DAY_MS).toISOString().slice(0, 10)), line);
  assert.match(line, /; fix: run `meshgen rotate --cluster cluster-east-1`/);
  assert.equal(r.problems.length, 1, lines(r).join('\n'));

  const cli = await runValidate(['validate', '--workdir', dir]);
  assert.equal(cli.code, 1);
  assert.match(cli.stdout, /certs\/cluster-east-1\/ca-cert\.pem: the intermediate CA of cluster-east-1 expires on/);
  assert.match(cli.stdout, /^validate: 1 problem\(s\)$/m);
});

test('an intermediate expiring in 40 days passes with the default --warn-days, and fails with --warn-days 60', async () => {
  const dir = example(true);
  await replaceIntermediate(dir, 'cluster-west-1', 40);

  const r = await validate({ workdir: dir });
  assert.deepEqual(lines(r), []);

  const r60 = await validate({ workdir: dir, warnDays: 60 });
  assertProblem(r60, /^certs\/cluster-west-1\/ca-cert\.pem: /, /in (39|40) days \(within --warn-days 60\)/);
  const cli = await runValidate(['validate', '--workdir', dir, '--warn-days', '60']);
  assert.equal(cli.code, 1);
  assert.match(cli.stdout, /certs\/cluster-west-1\/ca-cert\.pem: .*within --warn-days 60/);
});

test('fails when certificates have expired or expire soon (root and all), pointing the root at the README rotation', async () => {
  // Instead of issuing new certificates, look at the example from a later date.
  const dir = example();
  const rootNotAfter = new Date(new crypto.X509Certificate(fs.readFileSync(path.join(dir, 'certs', 'root-cert.pem'))).validTo);
  const soon = await validate({ workdir: dir, now: new Date(rootNotAfter.getTime() - 5 * DAY_MS) });
  assertProblem(soon, /^certs\/root-cert\.pem: the root CA expires on /, /in 5 days/, /README/);

  const later = await validate({ workdir: dir, now: new Date(rootNotAfter.getTime() + 3 * DAY_MS) });
  assertProblem(later, /^certs\/root-cert\.pem: the root CA expired on /, /\(3 days ago\)/);
  for (const c of ['cluster-east-1', 'cluster-east-2', 'cluster-west-1']) {
    assertProblem(later, new RegExp(`^certs/${c}/ca-cert\\.pem: the intermediate CA of ${c} expired on `), /rotate --cluster/);
  }
});

test('fails when a sealing certificate has expired (and says why dist/ was not compared with synth)', async () => {
  const dir = example();
  fs.writeFileSync(path.join(dir, 'sealing-certs', 'cluster-west-1.pem'), await sealingCert(new Date(Date.now() - 3 * DAY_MS), 1));

  const r = await validate({ workdir: dir });
  assertProblem(r, /^sealing-certs\/cluster-west-1\.pem: contexts\.context-west-1\.sealingCert/, /expired on/, /kubeseal .*--fetch-cert/);
  assert.ok(
    r.notes.some((n) => /dist\/ was not compared with what synth produces/.test(n)),
    r.notes.join('\n'),
  );
  assert.equal((await runValidate(['validate', '--workdir', dir])).code, 1);
});

test('fails when a sealing certificate expires within --warn-days', async () => {
  const dir = example();
  fs.writeFileSync(path.join(dir, 'sealing-certs', 'cluster-east-2.pem'), await sealingCert(new Date(), 10));

  const r = await validate({ workdir: dir });
  assertProblem(r, /^sealing-certs\/cluster-east-2\.pem: the Sealed Secrets certificate of cluster-east-2 expires on /, /within --warn-days 30/);
  // A new certificate also means dist/ must be sealed again, which validate reports as stale.
  assert.ok(
    lines(r).some((l) => /^sealed\/cluster-east-2\.yaml: .*synth would have to seal/.test(l)),
    lines(r).join('\n'),
  );
});

test('fails when a manifest was edited by hand, even when it still matches its schema', async () => {
  // GIVEN a changed port and a changed ciphertext
  const dir = example();
  edit(dir, GATEWAY, (t) => t.replace('number: 15443', 'number: 15444'));
  edit(dir, CACERTS, (t) => t.replace(/(ca-cert\.pem: Ag)(.)/, (_m, a, c) => `${a}${c === 'A' ? 'B' : 'A'}`));

  // WHEN
  const r = await validate({ workdir: dir });

  // THEN both are flagged as differing from synth, and nothing else
  assertProblem(r, new RegExp(`^${GATEWAY}: differs from what synth produces \\(edited by hand\\?\\); fix: run \`npm run synth\``));
  assertProblem(r, new RegExp(`^${CACERTS}: differs from what synth produces`));
  assert.equal(r.problems.length, 2, lines(r).join('\n'));
});

test('fails when a manifest does not match its schema, naming the line, the field and the schema error', async () => {
  const dir = example();
  edit(dir, GATEWAY, (t) => t.replace('mode: AUTO_PASSTHROUGH', 'mode: AUTO_PASSTHRU'));
  const modeLine = fs.readFileSync(path.join(dir, GATEWAY), 'utf8').split('\n').indexOf('        mode: AUTO_PASSTHRU') + 1;

  const r = await validate({ workdir: dir });
  const line = assertProblem(r, new RegExp(`^${GATEWAY}:${modeLine}: spec\\.servers\\[0\\]\\.tls\\.mode: unsupported value "AUTO_PASSTHRU"`));
  assert.match(line, /Gateway cross-network-gateway, schema gateways\.networking\.istio\.io/);
  // The edit also makes the file differ from synth.
  assertProblem(r, new RegExp(`^${GATEWAY}: differs from what synth produces`));
});

test('fails when a kustomization.yaml does not list a file of its directory, or lists one that is not there', async () => {
  const dir = example();
  const kustomization = 'dist/clusters/cluster-east-2/reader-token/kustomization.yaml';
  edit(dir, kustomization, (t) => t.replace('  - reader-token.yaml\n', '  - reader-tokens.yaml\n'));

  const r = await validate({ workdir: dir });
  assertProblem(r, new RegExp(`^${kustomization}: resources: does not list "reader-token\\.yaml"`));
  assertProblem(r, new RegExp(`^${kustomization}: resources: lists "reader-tokens\\.yaml", which is not in`));
  assertProblem(r, new RegExp(`^${kustomization}: differs from what synth produces`));
});

test('helm/ values and istioctl/ IstioOperators are rightly left out of kustomization.yaml; anything else unlisted is reported', async () => {
  const dir = example();
  const ok = await validate({ workdir: dir });
  assert.ok(
    !ok.problems.some((p) => /does not list "(helm|istioctl|control-plane|gateway)"/.test(p.message)),
    ok.problems.map((p) => p.message).join('\n'),
  );
  // A directory next to them that nothing applies is reported.
  fs.mkdirSync(path.join(dir, 'dist/clusters/cluster-east-1/extra'));
  fs.writeFileSync(
    path.join(dir, 'dist/clusters/cluster-east-1/extra/kustomization.yaml'),
    fs.readFileSync(path.join(dir, 'dist/clusters/cluster-east-1/reader-token/kustomization.yaml')),
  );
  const r = await validate({ workdir: dir });
  assertProblem(r, /^dist\/clusters\/cluster-east-1\/kustomization\.yaml: resources: does not list "extra"/);
  // A values file that is not a mapping is reported as such, not as a manifest without apiVersion.
  edit(dir, 'dist/clusters/cluster-east-1/helm/istiod-values.yaml', (t) => `${t.split('\n')[0]}\n- a list\n`);
  const v = await validate({ workdir: dir });
  assertProblem(v, /^dist\/clusters\/cluster-east-1\/helm\/istiod-values\.yaml: is not a mapping of Helm values/);
});

test('fails when a plaintext private key is dropped into dist/ (and a file without the header)', async () => {
  const dir = example();
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leak = 'dist/clusters/cluster-east-1/secrets/leak.yaml';
  fs.writeFileSync(
    path.join(dir, leak),
    `key: |\n  ${privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().trimEnd().split('\n').join('\n  ')}\n`,
  );

  const r = await validate({ workdir: dir });
  assertProblem(r, new RegExp(`^${leak}:2: holds a plaintext private key`));
  assertProblem(r, new RegExp(`^${leak}:1: does not start with the "# Generated by meshgen \\.\\.\\." header line`));
  assertProblem(r, /secrets\/kustomization\.yaml: resources: does not list "leak\.yaml"/);
  assertProblem(r, new RegExp(`^${leak}: differs from what synth produces, which does not write this file`));
});

test('fails when a token is in dist/ in plaintext or only base64-encoded', async () => {
  const dir = example();
  const b64 = (s: string) => Buffer.from(s).toString('base64url');
  const jwt = `${b64('{"alg":"RS256","kid":"k"}')}.${b64('{"iss":"kubernetes/serviceaccount","sub":"reader"}')}.c2lnbmF0dXJl`;
  edit(dir, 'dist/clusters/cluster-east-1/reader-token/reader-token.yaml', (t) => `${t}stringData:\n  token: ${jwt}\n`);
  edit(dir, 'dist/clusters/cluster-west-1/reader-token/reader-token.yaml', (t) => `${t}data:\n  token: ${Buffer.from(jwt).toString('base64')}\n`);

  const r = await validate({ workdir: dir });
  assertProblem(r, /^dist\/clusters\/cluster-east-1\/reader-token\/reader-token\.yaml:\d+: holds what looks like a plaintext token/, /seal-token/);
  assertProblem(
    r,
    /^dist\/clusters\/cluster-west-1\/reader-token\/reader-token\.yaml:\d+: holds what looks like a base64-encoded \(not sealed\) token/,
  );
});

test('fails when a URL with credentials is in dist/ (e.g. an ApplicationSet repoURL), never printing them', async () => {
  const dir = example();
  edit(dir, 'dist/argocd/applicationset.yaml', (t) =>
    t.replace('https://github.com/example/mesh-gitops.git', 'https://x-access-token:ghs_S3CRET@github.com/example/mesh-gitops.git'),
  );

  const r = await validate({ workdir: dir });
  const line = assertProblem(r, /^dist\/argocd\/applicationset\.yaml:\d+: holds a URL with credentials \(https:\/\/\*\*\*@github\.com/);
  assert.doesNotMatch(lines(r).join('\n'), /ghs_S3CRET|x-access-token/, line);
});

test('fails when topology.yaml has a server with user:password@: validate reports it (exit 1), masked', async () => {
  const dir = example();
  edit(dir, 'topology.yaml', (t) => t.replace('server: https://api.cluster-west-1', 'server: https://admin:pw-S3CRET@api.cluster-west-1'));

  const r = await runValidate(['validate', '--workdir', dir]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    /topology\.yaml:\d+:\d+: contexts\.context-west-1\.server: holds credentials \(user:password@\) in the URL \(https:\/\/\*\*\*@api\.cluster-west-1/,
  );
  assert.doesNotMatch(r.stdout + r.stderr, /pw-S3CRET/);
});

test('fails when topology.yaml is not even YAML: reported as a problem line, exit 1, not a crash', async () => {
  const dir = example();
  edit(dir, 'topology.yaml', (t) => t.replace(/^mesh_id: mymeshname$/m, 'mesh_id: [mymeshname'));

  const r = await validate({ workdir: dir });
  assertProblem(r, /^topology\.yaml:\d+:\d+: YAML syntax error/);
  // Everything that does not need the topology is still checked.
  assert.ok(r.stats.certificates >= 4, `certificates checked: ${r.stats.certificates}`);

  const cli = await runValidate(['validate', '--workdir', dir]);
  assert.equal(cli.code, 1, cli.stderr);
  assert.match(cli.stdout, /^topology\.yaml:\d+:\d+: YAML syntax error/m);
  assert.match(cli.stdout, /^note: dist\/ was not compared with what synth produces: topology\.yaml has problems/m);
  assert.match(cli.stdout, /^validate: \d+ problem\(s\)$/m);
});

test('fails when an intermediate key does not match its certificate', async () => {
  const dir = example(true);
  fs.copyFileSync(path.join(dir, 'certs', 'cluster-east-2', 'ca-key.pem'), path.join(dir, 'certs', 'cluster-east-1', 'ca-key.pem'));

  const r = await validate({ workdir: dir });
  assertProblem(r, /^certs\/cluster-east-1\/ca-key\.pem: does not match the certificate in certs\/cluster-east-1\/ca-cert\.pem/);
});

test('base.yaml warnings are printed as warning: lines and do not fail', async () => {
  const dir = example();
  edit(dir, 'base.yaml', (t) => t.replace('  profile: default\n', '  profile: default\n  values:\n    global:\n      meshID: other\n'));

  const r = await validate({ workdir: dir });
  assert.deepEqual(lines(r), []);
  assert.equal(r.warnings.length, 1, r.warnings.join('\n'));
  assert.match(r.warnings[0], /^base\.yaml:\d+: spec\.values\.global\.meshID: is set by meshgen/);

  const cli = await runValidate(['validate', '--workdir', dir]);
  assert.equal(cli.code, 0, cli.stdout);
  assert.match(cli.stdout, /^warning: base\.yaml:\d+: spec\.values\.global\.meshID/m);
});

test('when --crds / MESHGEN_CRDS names no directory, schema checks are skipped with one note and do not fail', async () => {
  const dir = example();
  const r = await validate({ workdir: dir, crds: path.join(dir, 'no-such-crds') });
  assert.deepEqual(lines(r), []);
  assert.equal(r.stats.manifests, 0);
  const notes = r.notes.filter((n) => /schema checks were skipped/.test(n));
  assert.equal(notes.length, 1, r.notes.join('\n'));
  assert.match(notes[0], /no-such-crds is not a directory/);

  const cli = await runValidate(['validate', '--workdir', dir, '--crds', path.join(dir, 'no-such-crds')]);
  assert.equal(cli.code, 0, cli.stdout);
  assert.match(cli.stdout, /^note: schema checks were skipped/m);
  assert.match(cli.stdout, /^validate: ok \(checked 7 certificates, 0 manifests against schemas\)$/m);
});

test('a CRD file that does not parse: schema checks stop with one note, validate does not crash', async () => {
  const dir = example();
  const crds = path.join(dir, 'broken-crds');
  fs.mkdirSync(crds);
  const gatewayCrd = [
    'apiVersion: apiextensions.k8s.io/v1',
    'kind: CustomResourceDefinition',
    'metadata:',
    '  name: gateways.networking.istio.io',
    'spec:',
    '  group: networking.istio.io',
    '  names:',
    '    kind: Gateway',
    '    plural: gateways',
    '  scope: Namespaced',
    '  versions: [unclosed',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(crds, 'gateway.yaml'), gatewayCrd);
  const r = await validate({ workdir: dir, crds });
  assert.deepEqual(lines(r), []);
  const notes = r.notes.filter((n) => /schema checks were skipped/.test(n));
  assert.equal(notes.length, 1, r.notes.join('\n'));
  assert.match(notes[0], /the CRDs cannot be read \(.*gateway\.yaml: /);
});

test('exit codes: 0 clean, 1 problems, 2 bad usage; --help has the option and examples', async () => {
  const dir = example();
  assert.equal((await runValidate(['validate', '--workdir', dir])).code, 0);

  edit(dir, GATEWAY, (t) => t.replace('number: 15443', 'number: 15444'));
  assert.equal((await runValidate(['validate', '--workdir', dir])).code, 1);

  for (const bad of [
    ['--warn-days', '-1'],
    ['--warn-days', 'soon'],
    ['--warn-days', '1.5'],
  ]) {
    const r = await runValidate(['validate', '--workdir', dir, ...bad]);
    assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, /command line: --warn-days: .*use a number of days from 0 to 36500/);
    assert.equal(r.stdout, '', 'nothing was validated');
  }
  const missing = await runValidate(['validate', '--workdir', path.join(dir, 'nowhere')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--workdir does not exist/);
  assert.equal((await runValidate(['validate', '--workdir', dir, '--no-such-option'])).code, 2);

  const help = await runValidate(['validate', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--warn-days/);
  assert.match(help.stdout, /Examples:/);
});
