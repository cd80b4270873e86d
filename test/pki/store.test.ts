import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { InputError } from '../../src/errors';
import { CertStore, createIntermediateCa, createRootCa, generateRsaKey, type RootCaFiles } from '../../src/pki';

const ORG = 'example.com';
const KEY = 2048;

let roots: Promise<[RootCaFiles, RootCaFiles]> | undefined;
function twoRoots(): Promise<[RootCaFiles, RootCaFiles]> {
  roots ??= Promise.all([createRootCa({ org: ORG, keySize: KEY }), createRootCa({ org: ORG, keySize: KEY })]);
  return roots;
}

const tempDirs: string[] = [];
after(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

function workdir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-pki-'));
  tempDirs.push(d);
  return d;
}

function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

/** Runs `fn`, expects an InputError, returns its problems. */
async function problemsOf(fn: () => unknown): Promise<{ file: string; message: string; fix?: string }[]> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof InputError, `expected InputError, got ${String(e)}`);
    return [...e.problems];
  }
  assert.fail('expected an InputError');
}

async function storeWithRoot(withKey = true): Promise<{ store: CertStore; dir: string; root: RootCaFiles }> {
  const [root] = await twoRoots();
  const dir = workdir();
  const store = new CertStore(dir);
  store.writeRoot(root);
  if (!withKey) fs.rmSync(path.join(dir, 'certs/root-key.pem'));
  return { store, dir, root };
}

test('writeRoot/readRoot round-trip with private modes (key 0600, certs/ 0700, cert 0644)', async () => {
  // GIVEN
  const [root] = await twoRoots();
  const dir = workdir();
  const store = new CertStore(dir);
  assert.equal(store.readRoot(), undefined);
  assert.equal(store.hasRootKey(), false);

  // WHEN
  store.writeRoot(root);

  // THEN
  assert.deepEqual(store.readRoot(), { certPem: root.certPem, keyPem: root.keyPem });
  assert.equal(store.hasRootKey(), true);
  assert.equal(mode(path.join(dir, 'certs/root-key.pem')), 0o600);
  assert.equal(mode(path.join(dir, 'certs/root-cert.pem')), 0o644);
  assert.equal(mode(path.join(dir, 'certs')), 0o700);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'certs')).sort(), ['root-cert.pem', 'root-key.pem']);
});

test('readRoot without the key (as in CI) returns the certificate only', async () => {
  const { store, root } = await storeWithRoot(false);

  assert.deepEqual(store.readRoot(), { certPem: root.certPem });
  assert.equal(store.hasRootKey(), false);
});

test('fails when root-key.pem does not match root-cert.pem', async () => {
  const [root, other] = await twoRoots();
  const store = new CertStore(workdir());
  store.writeRoot({ certPem: root.certPem, keyPem: other.keyPem });

  const problems = await problemsOf(() => store.readRoot());

  assert.equal(problems.length, 1);
  assert.equal(problems[0].file, 'certs/root-key.pem');
  assert.match(problems[0].message, /does not match the certificate in certs\/root-cert.pem/);
});

test('fails when root-cert.pem is truncated', async () => {
  const { store, dir, root } = await storeWithRoot();
  fs.writeFileSync(path.join(dir, 'certs/root-cert.pem'), root.certPem.slice(0, 300));

  const problems = await problemsOf(() => store.readRoot());

  assert.equal(problems[0].file, 'certs/root-cert.pem');
  assert.match(problems[0].message, /is not a valid PEM certificate/);
});

test('ensureIntermediates creates the missing intermediates in parallel, with private modes, and reuses them afterwards', async () => {
  // GIVEN a root with its key and five clusters
  const { store, dir } = await storeWithRoot();
  const clusters = ['east-1', 'east-2', 'west-1', 'west-2', 'south-1'];
  const progress: string[] = [];

  // WHEN
  const first = await store.ensureIntermediates(clusters, {
    org: ORG,
    keySize: KEY,
    allowCreate: true,
    onProgress: (done, total) => progress.push(`${done}/${total}`),
  });

  // THEN all five exist, in the asked order, with the right modes
  assert.deepEqual(first.created, clusters);
  assert.deepEqual([...first.intermediates.keys()], clusters);
  assert.deepEqual(progress, ['0/5', '1/5', '2/5', '3/5', '4/5', '5/5']);
  for (const c of clusters) {
    const d = path.join(dir, 'certs', c);
    assert.deepEqual(fs.readdirSync(d).sort(), ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']);
    assert.equal(mode(d), 0o700);
    assert.equal(mode(path.join(d, 'ca-key.pem')), 0o600);
    for (const f of ['ca-cert.pem', 'cert-chain.pem', 'root-cert.pem']) assert.equal(mode(path.join(d, f)), 0o644);
    const x = new crypto.X509Certificate(fs.readFileSync(path.join(d, 'ca-cert.pem')));
    assert.match(x.subject, new RegExp(`L=${c}$`));
    assert.equal(first.intermediates.get(c)?.caCertPem, fs.readFileSync(path.join(d, 'ca-cert.pem'), 'utf8'));
  }

  // WHEN run again (also in frozen mode, and without the root key)
  const again = await store.ensureIntermediates(clusters, { org: ORG, allowCreate: true });
  fs.rmSync(path.join(dir, 'certs/root-key.pem'));
  const frozen = await store.ensureIntermediates(clusters, { org: ORG, allowCreate: false });

  // THEN nothing is created and the same certificates come back
  assert.deepEqual(again.created, []);
  assert.deepEqual(frozen.created, []);
  for (const c of clusters) {
    assert.equal(again.intermediates.get(c)?.caCertPem, first.intermediates.get(c)?.caCertPem);
    assert.equal(frozen.intermediates.get(c)?.caKeyPem, first.intermediates.get(c)?.caKeyPem);
  }
});

test('readIntermediate works without ca-key.pem (committed files only)', async () => {
  const { store, dir, root } = await storeWithRoot();
  await store.ensureIntermediates(['c1'], { org: ORG, keySize: KEY, allowCreate: true });
  fs.rmSync(path.join(dir, 'certs/c1/ca-key.pem'));

  const inter = store.readIntermediate('c1', root.certPem);

  assert.ok(inter);
  assert.equal(inter.caKeyPem, undefined);
  assert.equal(inter.certChainPem, inter.caCertPem + root.certPem);
  assert.equal(store.readIntermediate('absent', root.certPem), undefined);
});

test('readIntermediate accepts CRLF line endings (e.g. a Windows checkout)', async () => {
  const { store, dir, root } = await storeWithRoot();
  await store.ensureIntermediates(['c1'], { org: ORG, keySize: KEY, allowCreate: true });
  for (const f of ['ca-cert.pem', 'cert-chain.pem', 'root-cert.pem']) {
    const file = path.join(dir, 'certs/c1', f);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/\n/g, '\r\n'));
  }

  assert.ok(store.readIntermediate('c1', root.certPem));
});

test('fails when an intermediate is missing and the root key is absent', async () => {
  const { store } = await storeWithRoot(false);

  const problems = await problemsOf(() => store.ensureIntermediates(['c1', 'c2'], { org: ORG, keySize: KEY, allowCreate: true }));

  assert.deepEqual(
    problems.map((p) => p.file),
    ['certs/c1/ca-cert.pem', 'certs/c2/ca-cert.pem'],
  );
  assert.match(problems[0].message, /is missing and cannot be created because the root key certs\/root-key.pem is absent/);
  assert.match(problems[0].fix ?? '', /put the root key at certs\/root-key.pem/);
});

test('fails when an intermediate is missing in frozen mode, and writes nothing', async () => {
  const { store, dir } = await storeWithRoot();

  const problems = await problemsOf(() => store.ensureIntermediates(['c1'], { org: ORG, keySize: KEY, allowCreate: false }));

  assert.equal(problems[0].file, 'certs/c1/ca-cert.pem');
  assert.match(problems[0].message, /frozen mode/);
  assert.equal(fs.existsSync(path.join(dir, 'certs/c1')), false);
});

test('fails when root-cert.pem is missing', async () => {
  const store = new CertStore(workdir());

  const problems = await problemsOf(() => store.ensureIntermediates(['c1'], { org: ORG, allowCreate: true }));

  assert.equal(problems[0].file, 'certs/root-cert.pem');
  assert.match(problems[0].fix ?? '', /meshgen prep/);
});

test('fails when several intermediates are broken, reporting every problem and creating nothing', async () => {
  // GIVEN c1 truncated, c2 with a foreign key, c3 issued by another root, c4 with a wrong chain; c5 missing
  const [, otherRoot] = await twoRoots();
  const { store, dir, root } = await storeWithRoot();
  await store.ensureIntermediates(['c1', 'c2', 'c3', 'c4'], { org: ORG, keySize: KEY, allowCreate: true });
  const caCert = (c: string) => path.join(dir, 'certs', c, 'ca-cert.pem');
  fs.writeFileSync(caCert('c1'), fs.readFileSync(caCert('c1'), 'utf8').slice(0, 400));
  fs.writeFileSync(path.join(dir, 'certs/c2/ca-key.pem'), (await generateRsaKey(KEY)).privateKeyPem);
  store.writeIntermediate('c3', await createIntermediateCa({ org: ORG, cluster: 'c3', root: otherRoot, keySize: KEY }));
  fs.writeFileSync(path.join(dir, 'certs/c4/cert-chain.pem'), fs.readFileSync(caCert('c4')));

  // WHEN
  const problems = await problemsOf(() => store.ensureIntermediates(['c1', 'c2', 'c3', 'c4', 'c5'], { org: ORG, keySize: KEY, allowCreate: true }));

  // THEN one problem per broken file, and c5 was not created
  assert.deepEqual(
    problems.map((p) => p.file),
    ['certs/c1/ca-cert.pem', 'certs/c2/ca-key.pem', 'certs/c3/ca-cert.pem', 'certs/c3/root-cert.pem', 'certs/c4/cert-chain.pem'],
  );
  assert.match(problems[2].message, /was not signed by the root CA/);
  assert.match(problems[3].message, /differs from certs\/root-cert.pem/);
  assert.match(problems[4].fix ?? '', /cat certs\/c4\/ca-cert.pem certs\/root-cert.pem > certs\/c4\/cert-chain.pem/);
  assert.equal(fs.existsSync(path.join(dir, 'certs/c5')), false);
  assert.throws(() => store.readIntermediate('c2', root.certPem), /certs\/c2\/ca-key.pem: does not match/);
});

test('fails when a cluster name would escape certs/', async () => {
  const { store, root } = await storeWithRoot();

  for (const bad of ['../x', 'a/b', '.hidden', '..', '']) {
    assert.throws(() => store.readIntermediate(bad, root.certPem), /cannot be a directory under certs\//);
  }
  const problems = await problemsOf(() => store.ensureIntermediates(['ok', '../../etc'], { org: ORG, allowCreate: true }));
  assert.equal(problems.length, 1);
  assert.equal(problems[0].file, 'topology.yaml');
  assert.match(problems[0].message, /"..\/..\/etc"/);
});
