/**
 * Primary-remote meshes, field by field against Istio's guides:
 * https://istio.io/latest/docs/setup/install/multicluster/primary-remote/ (one network) and
 * https://istio.io/latest/docs/setup/install/multicluster/primary-remote_multi-network/.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App } from 'cdk8s';
import { ClusterChart } from '../../src/charts/cluster-chart';
import { parseTopology } from '../../src/topology/load';
import { type Cluster, type Mesh, needsCrossNetworkGateway, needsEastWestGateway, remoteSecretPeers } from '../../src/topology/model';

const CACERTS = { 'ca-cert.pem': 'A', 'ca-key.pem': 'B', 'cert-chain.pem': 'C', 'root-cert.pem': 'D' };

function files(mesh: Mesh, name: string) {
  const cluster = mesh.clusters.find((c) => c.name === name);
  assert.ok(cluster);
  return new ClusterChart(new App(), name, {
    mesh,
    cluster,
    base: { profile: 'default' },
    secrets: { provider: 'sealed-secrets', cacerts: CACERTS, remoteSecrets: [] },
  }).files();
}
const one = (f: Map<string, any[]>, file: string) => {
  const objs = f.get(file);
  assert.ok(objs, `${file} is generated`);
  return objs;
};

// 2 primaries + 2 remotes on 2 networks: each network has a primary and a remote attached to it.
const MIXED = parseTopology(`mesh_id: mesh1
istio:
  installer: operator
  revision: 1-30
contexts:
  ctx-p1:
    cluster: p1
    network: net1
    eastWestGateway: {address: 192.0.2.1}
  ctx-r1:
    cluster: r1
    network: net1
    role: remote
    primary: ctx-p1
  ctx-p2:
    cluster: p2
    network: net2
    eastWestGateway: {address: istiod.p2.example.com}
  ctx-r2:
    cluster: r2
    network: net2
    role: remote
    primary: ctx-p2
`);

const SINGLE = parseTopology(`mesh_id: mesh1
istio:
  installer: operator
contexts:
  cluster1:
    network: network1
    eastWestGateway: {address: 198.51.100.7}
  cluster2:
    network: network1
    role: remote
    primary: cluster1
`);

test('model: every primary holds a remote secret for every other cluster; remotes hold none', () => {
  assert.deepEqual(
    MIXED.clusters.map((c) => [c.name, remoteSecretPeers(MIXED, c).map((p) => p.name)]),
    [
      ['p1', ['p2', 'r1', 'r2']],
      ['p2', ['p1', 'r1', 'r2']],
      ['r1', []],
      ['r2', []],
    ],
  );
});

test('multi-network primary serving a remote: externalIstiod, east-west gateway, cross-network gateway, istiod exposure', () => {
  const f = files(MIXED, 'p1');
  const [iop] = one(f, 'control-plane/control-plane.yaml');
  assert.equal(iop.spec.revision, '1-30');
  assert.deepEqual(iop.spec.values.global, { meshID: 'mesh1', multiCluster: { clusterName: 'p1' }, network: 'net1', externalIstiod: true });
  assert.equal(iop.spec.profile, 'default');
  const [ew] = one(f, 'post-install/eastwest-gateway.yaml');
  assert.equal(ew.spec.revision, '1-30');
  assert.ok(f.has('post-install/cross-network-gateway.yaml'));
  const [gw, vs] = one(f, 'post-install/istiod-exposure.yaml');
  assert.equal(gw.kind, 'Gateway');
  assert.equal(gw.metadata.name, 'istiod-gateway');
  assert.deepEqual(gw.spec.selector, { istio: 'eastwestgateway' });
  // expose-istiod-rev.yaml.tmpl names the ports as expose-istiod.yaml does.
  assert.deepEqual(
    gw.spec.servers.map((s: any) => s.port.name),
    ['tls-istiod', 'tls-istiodwebhook'],
  );
  assert.deepEqual(
    gw.spec.servers.map((s: any) => [s.port.number, s.port.protocol, s.tls.mode, s.hosts]),
    [
      [15012, 'tls', 'PASSTHROUGH', ['*']],
      [15017, 'tls', 'PASSTHROUGH', ['*']],
    ],
  );
  // expose-istiod-rev.yaml.tmpl
  assert.equal(vs.kind, 'VirtualService');
  assert.equal(vs.metadata.name, 'istiod-vs-1-30');
  assert.deepEqual(vs.spec.gateways, ['istiod-gateway']);
  assert.deepEqual(vs.spec.tls, [
    {
      match: [{ port: 15012, sniHosts: ['istiod-1-30.istio-system.svc', 'istiod-1-30.istio-system.svc.cluster.local'] }],
      route: [{ destination: { host: 'istiod-1-30.istio-system.svc.cluster.local', port: { number: 15012 } } }],
    },
    {
      match: [{ port: 15017, sniHosts: ['istiod-1-30.istio-system.svc', 'istiod-1-30.istio-system.svc.cluster.local'] }],
      route: [{ destination: { host: 'istiod-1-30.istio-system.svc.cluster.local', port: { number: 443 } } }],
    },
  ]);
});

test('multi-network mesh, remote on its primary network: profile remote, injection path, remotePilotAddress, controlPlaneClusters, nothing else', () => {
  const f = files(MIXED, 'r2');
  assert.deepEqual(
    [...f.keys()],
    ['secrets/namespace.yaml', 'secrets/cacerts.yaml', 'control-plane/control-plane.yaml', 'reader-token/reader-token.yaml'],
    "no east-west gateway (its network's gateways serve it), no cross-network-gateway, no istiod exposure, no remote secrets",
  );
  assert.ok(!needsEastWestGateway(MIXED, MIXED.clusters.find((c) => c.name === 'r2') as Cluster));
  const [ns] = one(f, 'secrets/namespace.yaml');
  assert.equal(ns.metadata.labels['topology.istio.io/network'], 'net2');
  assert.equal(ns.metadata.annotations['topology.istio.io/controlPlaneClusters'], 'p2');
  const [iop] = one(f, 'control-plane/control-plane.yaml');
  assert.equal(iop.spec.profile, 'remote');
  assert.equal(iop.spec.revision, '1-30');
  assert.deepEqual(iop.spec.values.istiodRemote, { injectionPath: '/inject/cluster/r2/net/net2' });
  assert.deepEqual(iop.spec.values.global, {
    meshID: 'mesh1',
    multiCluster: { clusterName: 'r2' },
    network: 'net2',
    remotePilotAddress: 'istiod.p2.example.com',
  });
  assert.equal(iop.spec.values.global.externalIstiod, undefined);
});

test('a remote on another network than its primary gets the east-west gateway (primary-remote multi-network guide)', () => {
  const mesh = parseTopology(
    'mesh_id: m\nistio:\n  installer: operator\ncontexts:\n  p:\n    network: n1\n    eastWestGateway: {address: 192.0.2.1}\n  r:\n    network: n2\n    role: remote\n    primary: p\n',
  );
  const f = files(mesh, 'r');
  const [ew] = one(f, 'post-install/eastwest-gateway.yaml');
  assert.equal(ew.spec.components.ingressGateways[0].label['topology.istio.io/network'], 'n2');
  assert.equal(ew.metadata.annotations['argocd.argoproj.io/sync-wave'], '3');
  assert.ok(!f.has('post-install/cross-network-gateway.yaml'));
});

test('single-network primary-remote: the primary still gets the east-west gateway and the istiod exposure; no network label', () => {
  const p = files(SINGLE, 'cluster1');
  assert.ok(needsEastWestGateway(SINGLE, SINGLE.clusters[0]));
  assert.ok(!needsCrossNetworkGateway(SINGLE, SINGLE.clusters[0]));
  const [ew] = one(p, 'post-install/eastwest-gateway.yaml');
  assert.equal(ew.spec.components.ingressGateways[0].label['topology.istio.io/network'], 'network1');
  assert.ok(!p.has('post-install/cross-network-gateway.yaml'));
  const [gw, vs] = one(p, 'post-install/istiod-exposure.yaml');
  assert.equal(gw.spec.servers[1].port.name, 'tls-istiodwebhook');
  assert.equal(vs.metadata.name, 'istiod-vs');
  assert.deepEqual(vs.spec.tls[0].match, [{ port: 15012, sniHosts: ['*'] }]);
  assert.equal(vs.spec.tls[0].route[0].destination.host, 'istiod.istio-system.svc.cluster.local');
  const [ns] = one(p, 'secrets/namespace.yaml');
  assert.equal(ns.metadata.labels, undefined);

  const r = files(SINGLE, 'cluster2');
  assert.deepEqual(
    [...r.keys()],
    ['secrets/namespace.yaml', 'secrets/cacerts.yaml', 'control-plane/control-plane.yaml', 'reader-token/reader-token.yaml'],
  );
  const [rns] = one(r, 'secrets/namespace.yaml');
  assert.equal(rns.metadata.annotations['topology.istio.io/controlPlaneClusters'], 'cluster1');
  const [iop] = one(r, 'control-plane/control-plane.yaml');
  assert.equal(iop.spec.values.global.remotePilotAddress, '198.51.100.7');
  assert.deepEqual(iop.spec.values.istiodRemote, { injectionPath: '/inject/cluster/cluster2/net/network1' });
});
