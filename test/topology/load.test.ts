import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../src/errors';
import { parseBase, parseTopology } from '../../src/topology/load';
import { isMultiNetwork, needsCrossNetworkGateway, needsEastWestGateway, remoteSecretPeers } from '../../src/topology/model';
import { TOPOLOGY_SCHEMA } from '../../src/topology/schema';

const ORIGINAL = `mesh_id: mymeshname
contexts:
  context-east-1:
    network: network-east
  context-east-2:
    network: network-east
  context-west-1:
    network: network-west
`;

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof InputError, `expected an InputError, got ${e}`);
    return e.message.split('\n');
  }
  assert.fail('expected an InputError');
}

test('the original setup-mesh.sh topology works unchanged, with defaults', () => {
  const mesh = parseTopology(ORIGINAL);
  assert.equal(mesh.meshId, 'mymeshname');
  assert.deepEqual(
    mesh.clusters.map((c) => [c.context, c.name, c.network, c.role, c.sealingCert]),
    [
      ['context-east-1', 'context-east-1', 'network-east', 'primary', 'sealing-certs/context-east-1.pem'],
      ['context-east-2', 'context-east-2', 'network-east', 'primary', 'sealing-certs/context-east-2.pem'],
      ['context-west-1', 'context-west-1', 'network-west', 'primary', 'sealing-certs/context-west-1.pem'],
    ],
  );
  assert.deepEqual(mesh.networks, ['network-east', 'network-west']);
  assert.equal(mesh.trustDomain, 'cluster.local');
  assert.equal(mesh.istio.installer, 'helm');
  assert.equal(mesh.secrets.provider, 'sealed-secrets');
  assert.ok(Object.isFrozen(mesh) && Object.isFrozen(mesh.clusters[0]));
});

test('clusters are sorted by cluster name and keep their context', () => {
  const mesh = parseTopology('mesh_id: m\ncontexts:\n  zeta:\n    network: n\n    cluster: a-first\n  alpha:\n    network: n\n');
  assert.deepEqual(
    mesh.clusters.map((c) => `${c.context}=${c.name}`),
    ['zeta=a-first', 'alpha=alpha'],
  );
});

test('multi-primary: every cluster is a peer of every other; gateways only when multi-network', () => {
  const multi = parseTopology(ORIGINAL);
  assert.ok(isMultiNetwork(multi));
  for (const c of multi.clusters) {
    assert.deepEqual(
      remoteSecretPeers(multi, c).map((p) => p.name),
      multi.clusters.filter((p) => p !== c).map((p) => p.name),
    );
    assert.ok(needsEastWestGateway(multi, c));
    assert.ok(needsCrossNetworkGateway(multi, c));
  }
  const single = parseTopology('mesh_id: m\ncontexts:\n  a:\n    network: n\n  b:\n    network: n\n');
  assert.ok(!isMultiNetwork(single));
  for (const c of single.clusters) {
    assert.ok(!needsEastWestGateway(single, c));
    assert.ok(!needsCrossNetworkGateway(single, c));
  }
});

test('fails when a key is unknown, with the line and a suggestion', () => {
  const lines = problemsOf(() => parseTopology('mesh_id: m\ncontexts:\n  a:\n    netwrok: n\n'));
  assert.equal(lines.length, 2);
  assert.match(
    lines.find((l) => l.includes('netwrok')) ?? '',
    /^topology\.yaml:4:5: contexts\.a\.netwrok: unknown key "netwrok"; did you mean "network"\?/,
  );
  assert.match(lines.find((l) => l.includes('required')) ?? '', /contexts\.a: required key "network" is missing/);
});

test('fails with every problem at once, each with file, path, line and fix', () => {
  const text = 'mesh_id: 42\norgg: x\ncontexts:\n  Bad_Name:\n    network: n\n  b:\n    network: n\n    role: boss\n    server: http://x\n';
  const lines = problemsOf(() => parseTopology(text));
  assert.deepEqual(lines.length, 5, lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('topology.yaml:1:10: mesh_id: expected a string, got an integer 42')));
  assert.ok(lines.some((l) => l.includes('topology.yaml:2:1: orgg: unknown key "orgg"; did you mean "org"?')));
  assert.ok(lines.some((l) => l.includes('contexts.b.role: "boss" is not allowed') && l.includes('fix: use one of "primary", "remote"')));
  assert.ok(lines.some((l) => l.includes('contexts.b.server: "http://x" is not valid') && l.includes('https://')));
  assert.ok(lines.some((l) => l.includes('contexts.Bad_Name') && l.includes('add `cluster: <name>`')) || lines.length === 5);
});

test('fails when the context name is not a DNS-1123 label and no cluster is set', () => {
  const lines = problemsOf(() => parseTopology('mesh_id: m\ncontexts:\n  arn:aws:eks:eu-west-1:1:cluster/prod:\n    network: n\n'));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /topology\.yaml:3:3: .*cannot be used as the cluster name.*fix: add `cluster: <name>`/);
  // With an explicit cluster name it is fine.
  const mesh = parseTopology('mesh_id: m\ncontexts:\n  arn:aws:eks:eu-west-1:1:cluster/prod:\n    network: n\n    cluster: prod\n');
  assert.equal(mesh.clusters[0].name, 'prod');
});

test('fails when two contexts have the same cluster name', () => {
  const lines = problemsOf(() => parseTopology('mesh_id: m\ncontexts:\n  a:\n    network: n\n  b:\n    network: n\n    cluster: a\n'));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /topology\.yaml:7:14: contexts\.b\.cluster: cluster name "a" is already used by context "a"/);
});

test('fails on duplicate keys and YAML syntax errors with the line', () => {
  assert.match(
    problemsOf(() => parseTopology('mesh_id: m\nmesh_id: n\ncontexts: {}\n'))[0],
    /topology\.yaml:2:1: mesh_id: duplicate key "mesh_id" \(first set on line 1\)/,
  );
  assert.match(
    problemsOf(() => parseTopology('mesh_id: m\ncontexts:\n  a:\n    network: "n\n'))[0],
    /topology\.yaml:[45]:\d+: YAML syntax error: Missing closing "quote/,
  );
});

test('fails when contexts is empty or the file is empty', () => {
  assert.match(problemsOf(() => parseTopology('mesh_id: m\ncontexts:\n# add your clusters here\n'))[0], /contexts: no clusters are listed/);
  assert.match(problemsOf(() => parseTopology(''))[0], /the file is empty/);
});

test('fails when the Sail installer has no version', () => {
  const lines = problemsOf(() => parseTopology('mesh_id: m\nistio:\n  installer: sail\ncontexts:\n  a:\n    network: n\n'));
  assert.equal(lines.length, 1);
  assert.ok(lines.some((l) => l.includes('istio.installer: the Sail Operator needs the Istio version')));
});

test('external-secrets: the mesh store, a per-cluster override, and the default prefix', () => {
  const mesh = parseTopology(
    'mesh_id: m1\nsecrets:\n  provider: external-secrets\n  store: {name: vault}\ncontexts:\n  a:\n    network: n\n  b:\n    network: n\n    secretStore: {kind: SecretStore, name: local}\n',
  );
  assert.equal(mesh.secrets.provider, 'external-secrets');
  assert.equal(mesh.secrets.prefix, 'istio/m1');
  assert.deepEqual(mesh.clusters[0].secretStore, { kind: 'ClusterSecretStore', name: 'vault' });
  assert.deepEqual(mesh.clusters[1].secretStore, { kind: 'SecretStore', name: 'local' });
});

test('primary-remote: a remote records its primary by cluster name', () => {
  const mesh = parseTopology(
    'mesh_id: m\ncontexts:\n  ctx-p:\n    cluster: p\n    network: n\n    eastWestGateway:\n      address: 192.0.2.1\n  ctx-r:\n    cluster: r\n    network: n\n    role: remote\n    primary: ctx-p\n',
  );
  const [p, r] = mesh.clusters;
  assert.equal(r.role, 'remote');
  assert.equal(r.primary, 'p');
  assert.equal(p.eastWestGateway.address, '192.0.2.1');
});

test('base.yaml: warns on fields meshgen sets and on values removed from Istio', () => {
  const base = parseBase(
    'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  values:\n    security:\n      selfSigned: false\n    global:\n      meshID: other\n',
  );
  assert.equal(base.warnings.length, 2);
  assert.match(`${base.warnings[0].path} ${base.warnings[0].message}`, /spec\.values\.global\.meshID is set by meshgen.*"other"/);
  assert.equal(base.warnings[0].line, 8);
  assert.match(base.warnings[1].message, /removed from Istio/);
});

test('base.yaml: fails when it is not an IstioOperator', () => {
  const lines = problemsOf(() => parseBase('apiVersion: v1\nkind: ConfigMap\nspec: []\n'));
  assert.equal(lines.length, 3);
  assert.match(lines[0], /base\.yaml:1:13: apiVersion: expected install\.istio\.io\/v1alpha1, got "v1"/);
});

test('the shipped JSON Schema is the one in src/topology/schema.ts (run `npm run schema` after changing it)', () => {
  const shipped = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'schema', 'topology.schema.json'), 'utf8'));
  assert.deepEqual(shipped, JSON.parse(JSON.stringify(TOPOLOGY_SCHEMA)));
});
