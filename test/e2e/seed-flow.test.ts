/**
 * The seed flow as a new user runs it: prep in an empty directory, a hand-written topology of 4 clusters on
 * 3 networks, synth, seal-token for each context, synth again; then everything a cluster would do with the
 * output is checked against the real thing (openssl, a Sealed Secrets decryptor, kubectl kustomize), and CI's
 * --check/--frozen runs with every private key moved away.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { createRootCa } from '../../src/pki';
import { runCli } from '../helpers/cli';
import { assertNoSecrets } from '../helpers/no-secrets';
import { type SealedSecretObject, unsealSealedSecret } from '../helpers/unseal';
import { hashTree } from '../helpers/workdir';

const has = (cmd: string) => spawnSync(cmd, ['version'], { stdio: 'ignore' }).error === undefined;
const OPENSSL = has('openssl');
const KUBECTL = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).error === undefined;

const CLUSTERS = [
  { context: 'ctx-a', cluster: 'alpha', network: 'net-1' },
  { context: 'ctx-b', cluster: 'bravo', network: 'net-1' },
  { context: 'ctx-c', cluster: 'charlie', network: 'net-2' },
  { context: 'ctx-d', cluster: 'delta', network: 'net-3' },
];

const docsOf = (file: string) => parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS());

describe('seed flow: prep → topology → synth → seal-token → synth', () => {
  let dir: string;
  const sealingKeys = new Map<string, string>();
  const tokens = new Map<string, string>();
  let apiCa = '';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-seed-'));
    // Sealing certificates as a Sealed Secrets controller has them: self-signed RSA.
    fs.mkdirSync(path.join(dir, 'sealing-certs'));
    for (const c of CLUSTERS) {
      const kp = await createRootCa({ org: 'sealed-secret', keySize: 2048, days: 365 });
      fs.writeFileSync(path.join(dir, 'sealing-certs', `${c.cluster}.pem`), kp.certPem);
      sealingKeys.set(c.cluster, kp.keyPem);
      apiCa ||= Buffer.from(kp.certPem).toString('base64'); // any CA certificate will do as the demo API server CA
      tokens.set(c.cluster, `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(`reader of ${c.cluster}`).toString('base64url')}.sig-${c.cluster}`);
    }
  });

  test('prep creates the root CA, base.yaml, topology.yaml and .gitignore; a second run changes nothing', async () => {
    // A Git work tree with an origin, as a user's repository: prep takes gitops.repoURL from it.
    const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { stdio: 'ignore' });
    let origin: string | undefined;
    try {
      git('init', '-q');
      git('remote', 'add', 'origin', 'https://git.example.com/demo/mesh.git');
      origin = 'https://git.example.com/demo/mesh.git';
    } catch {
      origin = undefined; // no git: gitops.repoURL is set by hand below
    }
    const r = await runCli(['prep', '--mesh-id', 'demo-mesh', '--org', 'Example Org', '--key-size', '2048', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    const topology = fs.readFileSync(path.join(dir, 'topology.yaml'), 'utf8');
    if (origin !== undefined) {
      assert.equal(parse(topology).gitops?.repoURL, origin, topology);
      assert.match(r.stderr, /note: topology\.yaml: gitops\.repoURL is https:\/\/git\.example\.com\/demo\/mesh\.git \(git remote get-url origin\)/);
    } else {
      fs.writeFileSync(
        path.join(dir, 'topology.yaml'),
        topology.replace('\ncontexts:', '\ngitops:\n  repoURL: https://git.example.com/demo/mesh.git\ncontexts:'),
      );
    }
    for (const f of ['certs/root-cert.pem', 'certs/root-key.pem', 'base.yaml', 'topology.yaml', '.gitignore']) {
      assert.ok(fs.existsSync(path.join(dir, f)), `${f} was created`);
    }
    assert.equal(fs.statSync(path.join(dir, 'certs/root-key.pem')).mode & 0o777, 0o600);
    const topo = fs.readFileSync(path.join(dir, 'topology.yaml'), 'utf8');
    assert.match(topo, /^# yaml-language-server: \$schema=.*schema\/topology\.schema\.json$/m);
    assert.match(topo, /^mesh_id: demo-mesh$/m);
    assert.match(topo, /^# {3}context-west-1:$/m, 'the commented example of the original guide');
    const gi = fs.readFileSync(path.join(dir, '.gitignore'), 'utf8');
    for (const l of ['certs/root-key.pem', 'certs/*/ca-key.pem', 'certs/*/reader-token']) assert.ok(gi.split('\n').includes(l), l);

    const before = hashTree(dir);
    const again = await runCli(['prep', '--mesh-id', 'demo-mesh', '--org', 'Example Org', '--workdir', dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /created/);
    assert.deepEqual(hashTree(dir), before);
  });

  test('first synth: intermediates created, cacerts sealed, remote secrets omitted with one warning', async () => {
    const contexts = CLUSTERS.map(
      (c) =>
        `  ${c.context}:\n    cluster: ${c.cluster}\n    network: ${c.network}\n    server: https://${c.cluster}.example.com:6443\n    certificateAuthorityData: ${apiCa}\n`,
    ).join('');
    const file = path.join(dir, 'topology.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('# add your clusters here\n', contexts));

    const r = await runCli(['synth', '--ca-key-size', '2048', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(warnings[0], /remote secrets for alpha, bravo, charlie, delta are omitted until their reader tokens are sealed/);
    assert.match(warnings[0], /meshgen seal-token --context ctx-a --token-file <file>/);
    for (const c of CLUSTERS) {
      const d = path.join(dir, 'dist', 'clusters', c.cluster, 'secrets');
      assert.ok(fs.existsSync(path.join(d, 'cacerts.yaml')));
      assert.ok(!fs.existsSync(path.join(d, 'remote-secrets.yaml')));
      assert.equal(fs.statSync(path.join(dir, 'certs', c.cluster, 'ca-key.pem')).mode & 0o777, 0o600);
    }
    const strict = await runCli(['synth', '--strict', '--workdir', dir]);
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /--strict: remote secrets for alpha/);
  });

  test('seal-token seals each token into the remote secret of every other primary', async () => {
    for (const c of CLUSTERS) {
      const r = await runCli(['seal-token', '--context', c.context, '--workdir', dir], `${tokens.get(c.cluster)}\n`);
      assert.equal(r.code, 0, r.stderr);
      const others = CLUSTERS.filter((o) => o !== c).map((o) => o.cluster);
      assert.match(r.stdout, new RegExp(`istio-remote-secret-${c.cluster} on ${others.join(', ')}`));
      assert.equal(fs.statSync(path.join(dir, 'certs', c.cluster, 'reader-token')).mode & 0o777, 0o600);
    }
    // The same token again: nothing to seal, the store is unchanged.
    const store = hashTree(path.join(dir, 'sealed'));
    const again = await runCli(['seal-token', '--context', 'ctx-a', '--workdir', dir], tokens.get('alpha'));
    assert.match(again.stdout, /already sealed/);
    assert.deepEqual(hashTree(path.join(dir, 'sealed')), store);

    const r = await runCli(['synth', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /warning/);
    assert.ok(assertNoSecrets(dir) > 40, 'no key or token in plaintext under dist/ or sealed/');
  });

  test('every cluster directory has exactly the files Istio needs, by stage, each listed in its kustomization.yaml', () => {
    for (const c of CLUSTERS) {
      const d = path.join(dir, 'dist', 'clusters', c.cluster);
      const files = [...hashTree(d).keys()].sort();
      // helm, the default installer: the charts are applied beside the directory (Argo CD sources, Flux HelmReleases);
      // helm/ holds their values and istioctl/ the merged IstioOperators, neither listed in a kustomization.
      assert.deepEqual(files, [
        'helm/base-values.yaml',
        'helm/gateway-values.yaml',
        'helm/istiod-values.yaml',
        'istioctl/control-plane.yaml',
        'istioctl/eastwest-gateway.yaml',
        'kustomization.yaml',
        'post-install/cross-network-gateway.yaml',
        'post-install/kustomization.yaml',
        'reader-token/kustomization.yaml',
        'reader-token/reader-token.yaml',
        'secrets/cacerts.yaml',
        'secrets/kustomization.yaml',
        'secrets/namespace.yaml',
        'secrets/remote-secrets.yaml',
      ]);
      for (const f of files) assert.ok(fs.readFileSync(path.join(d, f), 'utf8').startsWith('# Generated by meshgen from topology.yaml.'), f);
      assert.deepEqual(parse(fs.readFileSync(path.join(d, 'kustomization.yaml'), 'utf8')).resources, ['secrets', 'reader-token', 'post-install']);
      for (const stage of ['secrets', 'reader-token', 'post-install']) {
        const k = parse(fs.readFileSync(path.join(d, stage, 'kustomization.yaml'), 'utf8'));
        assert.deepEqual(
          [...k.resources].sort(),
          files.filter((f) => f.startsWith(`${stage}/`) && !f.endsWith('kustomization.yaml')).map((f) => f.slice(stage.length + 1)),
        );
      }

      const [ns] = docsOf(path.join(d, 'secrets/namespace.yaml'));
      assert.equal(ns.metadata.name, 'istio-system');
      assert.equal(ns.metadata.labels['topology.istio.io/network'], c.network);
      const [iop] = docsOf(path.join(d, 'istioctl/control-plane.yaml'));
      assert.deepEqual(iop.spec.values.global, { meshID: 'demo-mesh', multiCluster: { clusterName: c.cluster }, network: c.network });
      const istiod = parse(fs.readFileSync(path.join(d, 'helm/istiod-values.yaml'), 'utf8'));
      assert.deepEqual(istiod.global, { meshID: 'demo-mesh', multiCluster: { clusterName: c.cluster }, network: c.network });
      assert.equal(parse(fs.readFileSync(path.join(d, 'helm/gateway-values.yaml'), 'utf8')).networkGateway, c.network);
      const [ew] = docsOf(path.join(d, 'istioctl/eastwest-gateway.yaml'));
      assert.equal(ew.spec.components.ingressGateways[0].label['topology.istio.io/network'], c.network);
      assert.deepEqual(ew.spec.components.ingressGateways[0].k8s.env, [{ name: 'ISTIO_META_REQUESTED_NETWORK_VIEW', value: c.network }]);
      const remotes = docsOf(path.join(d, 'secrets/remote-secrets.yaml'));
      assert.deepEqual(
        remotes.map((s) => s.metadata.name),
        CLUSTERS.filter((o) => o !== c).map((o) => `istio-remote-secret-${o.cluster}`),
      );
    }
  });

  test('certificates verify with openssl and follow tools/certs/common.mk', { skip: !OPENSSL && 'openssl is not installed' }, () => {
    for (const c of CLUSTERS) {
      const d = path.join(dir, 'certs', c.cluster);
      const out = execFileSync('openssl', [
        'verify',
        '-CAfile',
        path.join(dir, 'certs/root-cert.pem'),
        '-untrusted',
        path.join(d, 'cert-chain.pem'),
        path.join(d, 'ca-cert.pem'),
      ]).toString();
      assert.match(out, /: OK/);
      const text = execFileSync('openssl', ['x509', '-in', path.join(d, 'ca-cert.pem'), '-noout', '-text', '-nameopt', 'RFC2253']).toString();
      assert.match(text, new RegExp(`Subject: L=${c.cluster},CN=Intermediate CA,O=Example Org`));
      assert.match(text, /CA:TRUE, pathlen:0/);
      assert.match(text, /DNS:istiod\.istio-system\.svc/);
      assert.equal(
        fs.readFileSync(path.join(d, 'cert-chain.pem'), 'utf8'),
        fs.readFileSync(path.join(d, 'ca-cert.pem'), 'utf8') + fs.readFileSync(path.join(dir, 'certs/root-cert.pem'), 'utf8'),
      );
    }
  });

  test('sealed values decrypt (as the controller would) to the CA files and to kubeconfigs with the right tokens', () => {
    for (const c of CLUSTERS) {
      const key = sealingKeys.get(c.cluster) as string;
      const d = path.join(dir, 'dist', 'clusters', c.cluster, 'secrets');
      const [cacerts] = docsOf(path.join(d, 'cacerts.yaml')) as SealedSecretObject[];
      const secret = unsealSealedSecret(key, cacerts);
      assert.equal(secret.name, 'cacerts');
      assert.equal(secret.namespace, 'istio-system');
      for (const f of ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']) {
        assert.equal(secret.data[f].toString(), fs.readFileSync(path.join(dir, 'certs', c.cluster, f), 'utf8'), `${c.cluster} ${f}`);
      }
      for (const rs of docsOf(path.join(d, 'remote-secrets.yaml')) as SealedSecretObject[]) {
        const s = unsealSealedSecret(key, rs);
        const peer = s.name.replace('istio-remote-secret-', '');
        assert.deepEqual(Object.keys(s.data), [peer], 'exactly one key: the peer, holding the kubeconfig');
        assert.equal(s.labels['istio/multiCluster'], 'true');
        assert.equal(s.annotations['networking.istio.io/cluster'], peer);
        const kc = parse(s.data[peer].toString());
        assert.equal(kc['current-context'], peer);
        assert.deepEqual(kc.clusters, [{ name: peer, cluster: { server: `https://${peer}.example.com:6443`, 'certificate-authority-data': apiCa } }]);
        assert.deepEqual(kc.contexts, [{ name: peer, context: { cluster: peer, user: peer } }]);
        assert.deepEqual(kc.users, [{ name: peer, user: { token: tokens.get(peer) } }]);
      }
    }
  });

  test('every cluster directory builds with kubectl kustomize', { skip: !KUBECTL && 'kubectl is not installed' }, () => {
    for (const c of CLUSTERS) {
      const out = execFileSync('kubectl', ['kustomize', path.join(dir, 'dist', 'clusters', c.cluster)]).toString();
      const kinds = parseAllDocuments(out).map((d) => d.toJS().kind);
      assert.equal(kinds.filter((k) => k === 'SealedSecret').length, 1 + CLUSTERS.length - 1);
    }
  });

  test('with every private key and token moved away, --check and --frozen reproduce the tree byte for byte', async () => {
    const away = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-keys-'));
    const privates = ['certs/root-key.pem', ...CLUSTERS.flatMap((c) => [`certs/${c.cluster}/ca-key.pem`, `certs/${c.cluster}/reader-token`])];
    for (const p of privates) fs.renameSync(path.join(dir, p), path.join(away, p.replace(/\//g, '_')));
    try {
      const before = hashTree(dir);
      const check = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
      assert.equal(check.code, 0, check.stdout + check.stderr);
      assert.match(check.stdout, /up to date/);
      // A fresh clone: dist/ deleted (as `cdk8s synth` does), rebuilt without any key.
      fs.rmSync(path.join(dir, 'dist'), { recursive: true });
      const frozen = await runCli(['synth', '--frozen', '--workdir', dir]);
      assert.equal(frozen.code, 0, frozen.stderr);
      assert.deepEqual(hashTree(dir), before);
    } finally {
      for (const p of privates) fs.renameSync(path.join(away, p.replace(/\//g, '_')), path.join(dir, p));
    }
  });

  test('--check lists the files that would change and writes nothing', async () => {
    const cp = path.join(dir, 'base.yaml');
    const base = fs.readFileSync(cp, 'utf8');
    fs.writeFileSync(cp, base.replace('profile: default', 'profile: default\n  meshConfig:\n    accessLogFile: /dev/stdout'));
    try {
      const before = hashTree(dir);
      const r = await runCli(['synth', '--check', '--workdir', dir]);
      assert.equal(r.code, 1);
      assert.deepEqual(
        r.stdout
          .split('\n')
          .filter((l) => l.startsWith('  '))
          .map((l) => l.trim()),
        [
          ...CLUSTERS.flatMap((c) => [
            `changed  dist/clusters/${c.cluster}/helm/istiod-values.yaml`,
            `changed  dist/clusters/${c.cluster}/istioctl/control-plane.yaml`,
          ]),
          ...CLUSTERS.map((c) => `changed  dist/flux/${c.cluster}/control-plane/releases.yaml`),
        ],
      );
      assert.deepEqual(hashTree(dir), before);
    } finally {
      fs.writeFileSync(cp, base);
    }
  });

  test('removing a cluster deletes its directory, its store and every remote secret pointing at it', async () => {
    const file = path.join(dir, 'topology.yaml');
    const topo = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, topo.replace(/ {2}ctx-d:\n(?: {4}.*\n)+/, ''));
    const r = await runCli(['synth', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!fs.existsSync(path.join(dir, 'dist/clusters/delta')));
    assert.ok(!fs.existsSync(path.join(dir, 'dist/flux/delta')));
    assert.ok(!fs.existsSync(path.join(dir, 'sealed/delta.yaml')));
    for (const c of CLUSTERS.slice(0, 3)) {
      const names = docsOf(path.join(dir, 'dist/clusters', c.cluster, 'secrets/remote-secrets.yaml')).map((s) => s.metadata.name);
      assert.ok(!names.includes('istio-remote-secret-delta'));
      assert.equal(names.length, 2);
    }
    assert.ok(fs.existsSync(path.join(dir, 'certs/delta/ca-cert.pem')), 'CA material is kept');
  });

  test('teardown empties every cluster directory, keeps certs/ and topology.yaml; CI agrees; deleting teardown.yaml restores the same bytes', async () => {
    const before = hashTree(path.join(dir, 'dist'));
    const certs = hashTree(path.join(dir, 'certs'));
    const r = await runCli(['teardown', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /removed {2}dist\/clusters\/alpha\/secrets\/cacerts\.yaml/);
    for (const c of CLUSTERS.slice(0, 3)) {
      const d = path.join(dir, 'dist/clusters', c.cluster);
      assert.deepEqual(
        [...hashTree(d).keys()].sort(),
        ['kustomization.yaml', 'post-install/kustomization.yaml', 'reader-token/kustomization.yaml', 'secrets/kustomization.yaml'],
        'every path an Argo CD Application or Flux Kustomization points at still exists',
      );
      assert.deepEqual(parse(fs.readFileSync(path.join(d, 'kustomization.yaml'), 'utf8')).resources, ['secrets', 'reader-token', 'post-install']);
      // The HelmReleases are pruned (Flux uninstalls the charts); the ApplicationSet has no chart source left.
      assert.deepEqual(parse(fs.readFileSync(path.join(dir, 'dist/flux', c.cluster, 'control-plane/kustomization.yaml'), 'utf8')).resources, []);
      assert.ok(!fs.existsSync(path.join(dir, 'dist/flux', c.cluster, 'control-plane/releases.yaml')));
      assert.deepEqual(parse(fs.readFileSync(path.join(d, 'secrets/kustomization.yaml'), 'utf8')).resources, []);
      assert.ok(fs.existsSync(path.join(dir, 'dist/flux', c.cluster, 'kustomizations.yaml')), 'the Flux entry point stays to prune');
    }
    if (KUBECTL) {
      const out = execFileSync('kubectl', ['kustomize', path.join(dir, 'dist/clusters/alpha')]).toString();
      assert.equal(out.trim(), '', 'a torn-down cluster directory builds to nothing');
    }
    assert.deepEqual(hashTree(path.join(dir, 'certs')), certs);
    assert.ok(fs.existsSync(path.join(dir, 'topology.yaml')));
    // The teardown commit passes CI's check, and a later synth keeps the mesh torn down.
    const check = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const torn = hashTree(path.join(dir, 'dist'));
    assert.equal((await runCli(['synth', '--workdir', dir])).code, 0);
    assert.deepEqual(hashTree(path.join(dir, 'dist')), torn);
    // Installing again: delete the marker.
    fs.rmSync(path.join(dir, 'teardown.yaml'));
    const again = await runCli(['synth', '--workdir', dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(hashTree(path.join(dir, 'dist')), before);
  });
});
