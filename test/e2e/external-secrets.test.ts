/**
 * The external-secrets provider on a copy of the example mesh: no secret material in git at all, cacerts and
 * remote secrets read by ESO, tokens pushed by each cluster.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { runCli } from '../helpers/cli';
import { assertNoSecrets } from '../helpers/no-secrets';
import { registry } from '../helpers/schemas';
import { hashTree, makeExampleWorkdir } from '../helpers/workdir';

const KUBECTL = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).error === undefined;
const docs = (file: string) => parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS());

async function esoWorkdir(withKeys = true): Promise<string> {
  const dir = makeExampleWorkdir({ withPrivateKeys: withKeys });
  const file = path.join(dir, 'topology.yaml');
  const topo = fs
    .readFileSync(file, 'utf8')
    .replace('gitops:\n', 'secrets:\n  provider: external-secrets\n  store: {kind: ClusterSecretStore, name: vault}\ngitops:\n')
    .replace(/^( {2}context-west-1:\n)/m, '$1    secretStore: {kind: SecretStore, name: west-store}\n');
  fs.writeFileSync(file, topo);
  const r = await runCli(['synth', '--workdir', dir]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

test('external-secrets: ExternalSecret cacerts, ExternalSecret remote secrets, PushSecret of the reader token; no sealed/', async () => {
  const dir = await esoWorkdir();
  assert.ok(!fs.existsSync(path.join(dir, 'sealed')) || fs.readdirSync(path.join(dir, 'sealed')).length === 0, 'nothing sealed');
  const d = path.join(dir, 'dist/clusters/cluster-east-1');
  const [ca] = docs(path.join(d, 'secrets/cacerts.yaml'));
  assert.equal(ca.apiVersion, 'external-secrets.io/v1');
  assert.equal(ca.kind, 'ExternalSecret');
  assert.equal(ca.metadata.name, 'cacerts');
  assert.equal(ca.metadata.namespace, 'istio-system');
  assert.equal(ca.metadata.annotations['argocd.argoproj.io/sync-wave'], '-1');
  assert.deepEqual(ca.spec.secretStoreRef, { kind: 'ClusterSecretStore', name: 'vault' });
  assert.equal(ca.spec.target.name, 'cacerts');
  assert.deepEqual(
    ca.spec.data.map((x: any) => [x.secretKey, x.remoteRef.key, x.remoteRef.property]),
    ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem'].map((k) => [k, 'istio/mymeshname/cluster-east-1/cacerts', k]),
  );

  // Remote secrets come last (each is Ready only once its peer pushed its token: nothing may wait on them).
  assert.ok(!fs.existsSync(path.join(d, 'secrets/remote-secrets.yaml')));
  const remotes = docs(path.join(d, 'remote-secrets/remote-secrets.yaml'));
  for (const r of remotes) assert.equal(r.metadata.annotations['argocd.argoproj.io/sync-wave'], '4');
  assert.deepEqual(
    remotes.map((r) => r.metadata.name),
    ['istio-remote-secret-cluster-east-2', 'istio-remote-secret-cluster-west-1'],
  );
  const rs = remotes[1];
  assert.deepEqual(rs.spec.data, [{ secretKey: 'token', remoteRef: { key: 'istio/mymeshname/cluster-west-1/reader-token', property: 'token' } }]);
  const t = rs.spec.target.template;
  assert.deepEqual(t.metadata, { labels: { 'istio/multiCluster': 'true' }, annotations: { 'networking.istio.io/cluster': 'cluster-west-1' } });
  assert.deepEqual(Object.keys(t.data), ['cluster-west-1'], 'the Secret has exactly one key: the peer');
  // ESO renders the template with the token; the result is create-remote-secret's kubeconfig.
  const kc = parse(t.data['cluster-west-1'].replace('{{ .token }}', 'TOKEN-OF-WEST'));
  assert.equal(kc['current-context'], 'cluster-west-1');
  assert.deepEqual(kc.users, [{ name: 'cluster-west-1', user: { token: 'TOKEN-OF-WEST' } }]);
  assert.equal(kc.clusters[0].cluster.server, 'https://api.cluster-west-1.example.com:6443');

  const post = docs(path.join(d, 'reader-token/reader-token.yaml'));
  const push = post.find((o) => o.kind === 'PushSecret');
  assert.equal(push.apiVersion, 'external-secrets.io/v1alpha1');
  assert.deepEqual(push.spec.selector, { secret: { name: 'istio-reader-service-account-istio-remote-secret-token' } });
  assert.deepEqual(push.spec.data, [
    { match: { secretKey: 'token', remoteRef: { remoteKey: 'istio/mymeshname/cluster-east-1/reader-token', property: 'token' } } },
  ]);
  assert.ok(
    Number(push.metadata.annotations['argocd.argoproj.io/sync-wave']) >
      Number(post.find((o) => o.kind === 'Secret').metadata.annotations['argocd.argoproj.io/sync-wave']),
  );

  // The per-cluster store override.
  const [westCa] = docs(path.join(dir, 'dist/clusters/cluster-west-1/secrets/cacerts.yaml'));
  assert.deepEqual(westCa.spec.secretStoreRef, { kind: 'SecretStore', name: 'west-store' });

  // No secret material in dist/ at all.
  for (const [f] of hashTree(path.join(dir, 'dist'))) {
    const text = fs.readFileSync(path.join(dir, 'dist', f), 'utf8');
    assert.doesNotMatch(text, /PRIVATE KEY|encryptedData|eyJhbGci/, f);
  }
  assert.ok(assertNoSecrets(dir) > 20);
  if (KUBECTL) for (const c of ['cluster-east-1', 'cluster-west-1']) execFileSync('kubectl', ['kustomize', path.join(dir, 'dist/clusters', c)]);
  fs.rmSync(dir, { recursive: true });
});

test('external-secrets output validates against the ESO CRD schemas', async () => {
  const dir = await esoWorkdir();
  const kinds = new Set<string>();
  for (const [f] of hashTree(path.join(dir, 'dist'))) {
    if (f.endsWith('kustomization.yaml') || /^clusters\/[^/]+\/helm\//.test(f) || !f.endsWith('.yaml')) continue;
    for (const o of docs(path.join(dir, 'dist', f))) {
      const r = registry.validate(o);
      assert.deepEqual(r.errors, [], `${f} ${o.kind}/${o.metadata.name}`);
      if (r.schema) kinds.add(o.kind);
    }
  }
  for (const k of ['ExternalSecret', 'PushSecret']) assert.ok(kinds.has(k), `${k} was checked`);
  fs.rmSync(dir, { recursive: true });
});

test('a fresh clone with no key reproduces the external-secrets tree', async () => {
  const dir = await esoWorkdir();
  const before = hashTree(path.join(dir, 'dist'));
  for (const f of fs.readdirSync(path.join(dir, 'certs')).filter((x) => !x.endsWith('.pem'))) {
    fs.rmSync(path.join(dir, 'certs', f, 'ca-key.pem'), { force: true });
    fs.rmSync(path.join(dir, 'certs', f, 'reader-token'), { force: true });
  }
  fs.rmSync(path.join(dir, 'certs', 'root-key.pem'));
  const r = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(hashTree(path.join(dir, 'dist')), before);
  fs.rmSync(dir, { recursive: true });
});

test('export-ca writes the four files to upload, the key 0600', async () => {
  const dir = await esoWorkdir();
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-export-')), 'east-1');
  const r = await runCli(['export-ca', '--cluster', 'context-east-1', '--out', out, '--workdir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /istio\/mymeshname\/cluster-east-1\/cacerts/);
  assert.deepEqual(fs.readdirSync(out).sort(), ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']);
  assert.equal(fs.statSync(path.join(out, 'ca-key.pem')).mode & 0o777, 0o600);
  assert.equal(fs.statSync(out).mode & 0o777, 0o700);
  for (const f of ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']) {
    assert.equal(fs.readFileSync(path.join(out, f), 'utf8'), fs.readFileSync(path.join(dir, 'certs/cluster-east-1', f), 'utf8'));
  }
  const bad = await runCli(['export-ca', '--cluster', 'cluster-nope', '--out', out, '--workdir', dir]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not a context of topology\.yaml/);
  fs.rmSync(dir, { recursive: true });
});
