/**
 * The bundled example mesh (the repository root): a fresh clone reproduces the committed dist/ with no
 * private key, the sealed values decrypt with the demo controller keys, and nothing secret is in dist/.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { runCli } from './helpers/cli';
import { type SealedSecretObject, unsealSealedSecret } from './helpers/unseal';
import { hashTree, makeExampleWorkdir, REPO_ROOT } from './helpers/workdir';

const PRIVATE = path.join(REPO_ROOT, 'test', 'fixtures', 'example-private');
const SEALING_KEYS = path.join(REPO_ROOT, 'test', 'fixtures', 'sealing-keys');

test('a fresh clone (no private key, dist/ deleted) reproduces the committed dist/ byte for byte', async () => {
  const dir = makeExampleWorkdir();
  fs.rmSync(path.join(dir, 'dist'), { recursive: true });
  const r = await runCli(['synth', '--frozen', '--strict', '--workdir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(hashTree(path.join(dir, 'dist')), hashTree(path.join(REPO_ROOT, 'dist')));
  const check = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
  assert.equal(check.code, 0, check.stdout);
  fs.rmSync(dir, { recursive: true });
});

test('with the private keys present, synth reseals nothing and changes nothing (ciphertext is reused)', async () => {
  const dir = makeExampleWorkdir({ withPrivateKeys: true });
  const before = hashTree(dir);
  const r = await runCli(['synth', '--workdir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /no changes/);
  assert.deepEqual(hashTree(dir), before);
  fs.rmSync(dir, { recursive: true });
});

test('a new sealing certificate reseals everything of that cluster and nothing else', async () => {
  const dir = makeExampleWorkdir({ withPrivateKeys: true });
  const before = hashTree(dir);
  // Renewal: the same controller key, a new certificate (as the controller does every 30 days).
  const certFile = path.join(dir, 'sealing-certs', 'cluster-west-1.pem');
  const keyFile = path.join(SEALING_KEYS, 'cluster-west-1.key');
  execFileSync('openssl', ['req', '-x509', '-new', '-key', keyFile, '-days', '3650', '-subj', '/CN=sealed-secret/O=sealed-secret', '-out', certFile]);
  const r = await runCli(['synth', '--workdir', dir]);
  assert.equal(r.code, 0, r.stderr);
  const after = hashTree(dir);
  const changed = [...after.keys()].filter((k) => after.get(k) !== before.get(k)).sort();
  assert.deepEqual(changed, [
    'dist/clusters/cluster-west-1/secrets/cacerts.yaml',
    'dist/clusters/cluster-west-1/secrets/remote-secrets.yaml',
    'sealed/cluster-west-1.yaml',
    'sealing-certs/cluster-west-1.pem',
  ]);
  // The resealed values still open with the controller key.
  const key = fs.readFileSync(keyFile, 'utf8');
  for (const f of ['cacerts.yaml', 'remote-secrets.yaml']) {
    for (const d of parseAllDocuments(fs.readFileSync(path.join(dir, 'dist/clusters/cluster-west-1/secrets', f), 'utf8'))) {
      unsealSealedSecret(key, d.toJS() as SealedSecretObject);
    }
  }
  fs.rmSync(dir, { recursive: true });
});

test('the committed example decrypts with the demo controller keys to the right CA files and tokens', () => {
  const topo = fs.readFileSync(path.join(REPO_ROOT, 'topology.yaml'), 'utf8');
  const contexts = [...topo.matchAll(/^ {2}(context-[a-z0-9-]+):\n(?: {4}.*\n)*? {4}cluster: (\S+)/gm)].map((m) => ({
    context: m[1],
    cluster: m[2],
  }));
  assert.equal(contexts.length, 3);
  for (const { cluster } of contexts) {
    const key = fs.readFileSync(path.join(SEALING_KEYS, `${cluster}.key`), 'utf8');
    const d = path.join(REPO_ROOT, 'dist', 'clusters', cluster, 'secrets');
    const [ca] = parseAllDocuments(fs.readFileSync(path.join(d, 'cacerts.yaml'), 'utf8')).map((x) => x.toJS());
    const s = unsealSealedSecret(key, ca);
    assert.equal(s.data['ca-key.pem'].toString(), fs.readFileSync(path.join(PRIVATE, cluster, 'ca-key.pem'), 'utf8'));
    assert.equal(s.data['ca-cert.pem'].toString(), fs.readFileSync(path.join(REPO_ROOT, 'certs', cluster, 'ca-cert.pem'), 'utf8'));
    const remotes = parseAllDocuments(fs.readFileSync(path.join(d, 'remote-secrets.yaml'), 'utf8')).map((x) => x.toJS());
    assert.equal(remotes.length, 2);
    for (const rs of remotes) {
      const peer = rs.metadata.name.replace('istio-remote-secret-', '');
      const ctx = contexts.find((c) => c.cluster === peer)?.context;
      const token = fs.readFileSync(path.join(PRIVATE, 'tokens', `${ctx}.token`), 'utf8').trim();
      assert.match(unsealSealedSecret(key, rs).data[peer].toString(), new RegExp(`\\n {4}token: ${token.replace(/\./g, '\\.')}\\n`));
    }
  }
});

test('no private key, token or plaintext CA file anywhere under dist/ or sealed/', () => {
  const secrets: string[] = [fs.readFileSync(path.join(PRIVATE, 'root-key.pem'), 'utf8')];
  for (const f of fs.readdirSync(path.join(PRIVATE, 'tokens'))) secrets.push(fs.readFileSync(path.join(PRIVATE, 'tokens', f), 'utf8').trim());
  for (const c of fs.readdirSync(PRIVATE).filter((x) => x.startsWith('cluster-')))
    secrets.push(fs.readFileSync(path.join(PRIVATE, c, 'ca-key.pem'), 'utf8'));
  // Lines of PEM bodies, so a re-wrapped or partial copy is still found.
  const needles = secrets.flatMap((s) => (s.includes('-----BEGIN') ? s.split('\n').filter((l) => l.length >= 40) : [s]));
  for (const dir of ['dist', 'sealed']) {
    for (const [file] of hashTree(path.join(REPO_ROOT, dir))) {
      const text = fs.readFileSync(path.join(REPO_ROOT, dir, file), 'utf8');
      assert.doesNotMatch(text, /BEGIN [A-Z ]*PRIVATE KEY/, `${dir}/${file}`);
      assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./, `${dir}/${file} holds a JWT`);
      for (const n of needles) assert.ok(!text.includes(n), `${dir}/${file} holds a secret`);
    }
  }
});

test('private key and token paths are git-ignored', { skip: spawnSync('git', ['--version']).error ? 'git is not installed' : false }, () => {
  for (const p of ['certs/root-key.pem', 'certs/cluster-east-1/ca-key.pem', 'certs/cluster-east-1/reader-token', 'certs/new-cluster/ca-key.pem']) {
    const r = spawnSync('git', ['check-ignore', '-q', p], { cwd: REPO_ROOT });
    assert.equal(r.status, 0, `${p} is not git-ignored`);
  }
});

test(
  'every cluster of the example builds with kubectl kustomize, cacerts ordered before the control plane',
  {
    skip: spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).error ? 'kubectl is not installed' : false,
  },
  () => {
    const clusters = fs.readdirSync(path.join(REPO_ROOT, 'dist', 'clusters'));
    assert.equal(clusters.length, 3);
    for (const c of clusters) {
      const objs = parseAllDocuments(execFileSync('kubectl', ['kustomize', path.join(REPO_ROOT, 'dist', 'clusters', c)]).toString()).map((d) =>
        d.toJS(),
      );
      const wave = (kind: string, name: string) =>
        Number(objs.find((o) => o.kind === kind && o.metadata.name === name)?.metadata.annotations['argocd.argoproj.io/sync-wave']);
      // Istio's base and istiod charts come beside this directory in the same Application, unannotated: wave 0.
      const charts = 0;
      const gateway = Number(
        parse(fs.readFileSync(path.join(REPO_ROOT, 'dist', 'clusters', c, 'helm', 'gateway-values.yaml'), 'utf8')).annotations[
          'argocd.argoproj.io/sync-wave'
        ],
      );
      assert.ok(wave('Namespace', 'istio-system') < wave('SealedSecret', 'cacerts'));
      assert.ok(wave('SealedSecret', 'cacerts') < charts);
      assert.ok(charts < wave('Secret', 'istio-reader-service-account-istio-remote-secret-token'));
      assert.ok(wave('Secret', 'istio-reader-service-account-istio-remote-secret-token') < gateway);
      assert.ok(!objs.some((o) => o.kind === 'IstioOperator'), 'the istioctl/ files are not applied');
    }
  },
);

test('the Argo CD ApplicationSet and the Flux entry points cover every cluster', () => {
  const clusters = fs.readdirSync(path.join(REPO_ROOT, 'dist', 'clusters')).sort();
  const [appset] = parseAllDocuments(fs.readFileSync(path.join(REPO_ROOT, 'dist/argocd/applicationset.yaml'), 'utf8')).map((d) => d.toJS());
  assert.deepEqual(
    appset.spec.generators[0].list.elements.map((e: { cluster: string }) => e.cluster),
    clusters,
  );
  assert.deepEqual(fs.readdirSync(path.join(REPO_ROOT, 'dist', 'flux')).sort(), clusters);
});

test('a cluster without a server is left out of the ApplicationSet, with a warning', async () => {
  const dir = makeExampleWorkdir();
  const file = path.join(dir, 'topology.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/ {4}server: https:\/\/api\.cluster-west-1\.example\.com:6443\n/, ''));
  const r = await runCli(['synth', '--workdir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: the Argo CD ApplicationSet leaves out cluster-west-1: no server in topology\.yaml/);
  assert.match(r.stderr, /warning: remote secrets for cluster-west-1 are omitted: server and certificateAuthorityData are not set/);
  const [appset] = parseAllDocuments(fs.readFileSync(path.join(dir, 'dist/argocd/applicationset.yaml'), 'utf8')).map((d) => d.toJS());
  assert.deepEqual(
    appset.spec.generators[0].list.elements.map((e: { cluster: string }) => e.cluster),
    ['cluster-east-1', 'cluster-east-2'],
  );
  fs.rmSync(dir, { recursive: true });
});

test('seal-token --token-dir seals the tokens of every cluster in one run', async () => {
  const dir = makeExampleWorkdir({ withPrivateKeys: true });
  const tokens = path.join(dir, 'new-tokens');
  fs.mkdirSync(tokens);
  const contexts = ['context-east-1', 'context-east-2', 'context-west-1'];
  for (const c of contexts) fs.writeFileSync(path.join(tokens, `${c}.token`), `eyJhbGciOiJSUzI1NiJ9.rotated-${c}.sig\n`);
  const r = await runCli(['seal-token', '--token-dir', tokens, '--workdir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.match(/sealed 2 value\(s\)/g)?.length, 3, r.stdout);
  const s = await runCli(['synth', '--workdir', dir]);
  assert.equal(s.code, 0, s.stderr);
  const key = fs.readFileSync(path.join(SEALING_KEYS, 'cluster-east-1.key'), 'utf8');
  const remotes = parseAllDocuments(fs.readFileSync(path.join(dir, 'dist/clusters/cluster-east-1/secrets/remote-secrets.yaml'), 'utf8')).map((d) =>
    d.toJS(),
  );
  const west = remotes.find((x) => x.metadata.name === 'istio-remote-secret-cluster-west-1');
  assert.match(unsealSealedSecret(key, west).data['cluster-west-1'].toString(), /token: eyJhbGciOiJSUzI1NiJ9\.rotated-context-west-1\.sig\n/);
  fs.rmSync(dir, { recursive: true });
});

test('a torn-down mesh keeps sealed/ as it is, even when a sealing certificate changes meanwhile', async () => {
  const dir = makeExampleWorkdir({ withPrivateKeys: true });
  assert.equal((await runCli(['teardown', '--workdir', dir])).code, 0);
  const sealed = hashTree(path.join(dir, 'sealed'));
  const keyFile = path.join(SEALING_KEYS, 'cluster-east-2.key');
  execFileSync('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    keyFile,
    '-days',
    '3650',
    '-subj',
    '/CN=sealed-secret',
    '-out',
    path.join(dir, 'sealing-certs/cluster-east-2.pem'),
  ]);
  const r = await runCli(['synth', '--workdir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(hashTree(path.join(dir, 'sealed')), sealed);
  const check = await runCli(['synth', '--check', '--workdir', dir]);
  assert.equal(check.code, 0, check.stdout);
  fs.rmSync(dir, { recursive: true });
});
