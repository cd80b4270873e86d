import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App } from 'cdk8s';
import { ClusterChart, type SealedRemoteSecret } from '../../src/charts/cluster-chart';
import { kubeconfigTemplate, remoteSecretKubeconfig } from '../../src/charts/remote-secret';
import { parseTopology } from '../../src/topology/load';
import type { Mesh } from '../../src/topology/model';
import { deepMerge } from '../../src/util/records';

const CACERTS = { 'ca-cert.pem': 'AgA1', 'ca-key.pem': 'AgA2', 'cert-chain.pem': 'AgA3', 'root-cert.pem': 'AgA4' };

function synthCluster(mesh: Mesh, name: string, base: Record<string, unknown> = { profile: 'default' }, remoteSecrets: SealedRemoteSecret[] = []) {
  const cluster = mesh.clusters.find((c) => c.name === name);
  assert.ok(cluster);
  const chart = new ClusterChart(new App(), name, { mesh, cluster, base, secrets: { provider: 'sealed-secrets', cacerts: CACERTS, remoteSecrets } });
  return chart.files();
}

const MULTI = parseTopology(
  'mesh_id: m\nistio:\n  installer: operator\ncontexts:\n  a:\n    network: n1\n    eastWestGateway:\n      serviceType: NodePort\n  b:\n    network: n2\n  c:\n    network: n2\n',
);
const SINGLE = parseTopology('mesh_id: m\nistio:\n  installer: operator\ncontexts:\n  a:\n    network: n1\n  b:\n    network: n1\n');

test('multi-network primary: namespace label, east-west gateway, cross-network gateway', () => {
  const files = synthCluster(MULTI, 'a');
  assert.deepEqual(
    [...files.keys()],
    [
      'secrets/namespace.yaml',
      'secrets/cacerts.yaml',
      'control-plane/control-plane.yaml',
      'post-install/eastwest-gateway.yaml',
      'post-install/cross-network-gateway.yaml',
      'reader-token/reader-token.yaml',
    ],
  );
  const [ns] = files.get('secrets/namespace.yaml') as any[];
  assert.deepEqual(ns.metadata.labels, { 'topology.istio.io/network': 'n1' });
  assert.equal(ns.metadata.annotations['argocd.argoproj.io/sync-wave'], '-2');

  const [ew] = files.get('post-install/eastwest-gateway.yaml') as any[];
  assert.equal(ew.apiVersion, 'install.istio.io/v1alpha1');
  assert.equal(ew.metadata.name, 'eastwest');
  assert.equal(ew.spec.profile, 'empty');
  assert.equal(ew.spec.revision, '');
  const gw = ew.spec.components.ingressGateways[0];
  assert.equal(gw.name, 'istio-eastwestgateway');
  assert.equal(gw.enabled, true);
  assert.deepEqual(gw.label, { istio: 'eastwestgateway', app: 'istio-eastwestgateway', 'topology.istio.io/network': 'n1' });
  assert.deepEqual(gw.k8s.env, [{ name: 'ISTIO_META_REQUESTED_NETWORK_VIEW', value: 'n1' }]);
  assert.deepEqual(
    gw.k8s.service.ports.map((p: any) => `${p.name}:${p.port}:${p.targetPort}`),
    ['status-port:15021:15021', 'tls:15443:15443', 'tls-istiod:15012:15012', 'tls-webhook:15017:15017'],
  );
  assert.equal(gw.k8s.service.type, 'NodePort');
  assert.deepEqual(ew.spec.values, { gateways: { 'istio-ingressgateway': { injectionTemplate: 'gateway' } }, global: { network: 'n1' } });

  const [xgw] = files.get('post-install/cross-network-gateway.yaml') as any[];
  assert.equal(xgw.apiVersion, 'networking.istio.io/v1');
  assert.equal(xgw.metadata.name, 'cross-network-gateway');
  assert.equal(xgw.metadata.namespace, 'istio-system');
  assert.deepEqual(xgw.spec, {
    selector: { istio: 'eastwestgateway' },
    servers: [{ port: { number: 15443, name: 'tls', protocol: 'TLS' }, tls: { mode: 'AUTO_PASSTHROUGH' }, hosts: ['*.local'] }],
  });
});

test('the default LoadBalancer service type is left to Istio (as gen-eastwest-gateway.sh does)', () => {
  const [ew] = synthCluster(MULTI, 'b').get('post-install/eastwest-gateway.yaml') as any[];
  assert.equal(ew.spec.components.ingressGateways[0].k8s.service.type, undefined);
});

test('single network: no network label, no gateways', () => {
  const files = synthCluster(SINGLE, 'a');
  assert.deepEqual(
    [...files.keys()],
    ['secrets/namespace.yaml', 'secrets/cacerts.yaml', 'control-plane/control-plane.yaml', 'reader-token/reader-token.yaml'],
  );
  const [ns] = files.get('secrets/namespace.yaml') as any[];
  assert.equal(ns.metadata.labels, undefined);
});

test('control plane: base.yaml merged under the generated meshID, clusterName and network, which win', () => {
  const base = { profile: 'demo', meshConfig: { accessLogFile: '/dev/stdout' }, values: { global: { meshID: 'wrong', logging: { level: 'info' } } } };
  const [iop] = synthCluster(MULTI, 'b', base).get('control-plane/control-plane.yaml') as any[];
  assert.equal(iop.kind, 'IstioOperator');
  assert.equal(iop.metadata.namespace, 'istio-system');
  assert.equal(iop.metadata.annotations['argocd.argoproj.io/sync-wave'], '0');
  assert.equal(iop.spec.profile, 'demo');
  assert.deepEqual(iop.spec.meshConfig, { accessLogFile: '/dev/stdout', trustDomain: 'cluster.local' });
  assert.deepEqual(iop.spec.values.global, { meshID: 'm', logging: { level: 'info' }, multiCluster: { clusterName: 'b' }, network: 'n2' });
  assert.equal(base.values.global.meshID, 'wrong', 'base is not modified');
});

test('cacerts and remote secrets are SealedSecrets in the wave before the control plane', () => {
  const peer = MULTI.clusters[1];
  const files = synthCluster(MULTI, 'a', {}, [
    { peer, server: 'https://b:6443', certificateAuthorityData: 'Q0E=', sealedKubeconfig: 'AgBkubeconfig' },
  ]);
  const [ca] = files.get('secrets/cacerts.yaml') as any[];
  assert.equal(ca.kind, 'SealedSecret');
  assert.equal(ca.metadata.name, 'cacerts');
  assert.equal(ca.metadata.annotations['argocd.argoproj.io/sync-wave'], '-1');
  assert.deepEqual(ca.spec.encryptedData, CACERTS);
  assert.deepEqual(ca.spec.template, { metadata: { name: 'cacerts', namespace: 'istio-system' }, type: 'Opaque' });

  const [rs] = files.get('secrets/remote-secrets.yaml') as any[];
  assert.equal(rs.metadata.name, 'istio-remote-secret-b');
  assert.equal(rs.metadata.annotations['argocd.argoproj.io/sync-wave'], '-1');
  // The whole kubeconfig is sealed under the peer's key; no template key (one that equals an encrypted key unseals
  // differently before and after sealed-secrets PR #1940).
  assert.deepEqual(rs.spec.encryptedData, { b: 'AgBkubeconfig' });
  assert.deepEqual(rs.spec.template.metadata, {
    name: 'istio-remote-secret-b',
    namespace: 'istio-system',
    labels: { 'istio/multiCluster': 'true' },
    annotations: { 'networking.istio.io/cluster': 'b' },
  });
  assert.equal(rs.spec.template.data, undefined);
  assert.equal(rs.spec.template.type, 'Opaque');
});

test('the sealed kubeconfig is the shape of istioctl create-remote-secret, with the token', () => {
  const t = remoteSecretKubeconfig({ peer: 'east-2', server: 'https://api:6443', certificateAuthorityData: 'Q0E=' }, 'eyJ.tok-en_1');
  assert.equal(
    t,
    `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://api:6443
  name: east-2
contexts:
- context:
    cluster: east-2
    user: east-2
  name: east-2
current-context: east-2
kind: Config
users:
- name: east-2
  user:
    token: eyJ.tok-en_1
`,
  );
  // A token or a name that YAML would read as something else stays a string.
  const odd = remoteSecretKubeconfig({ peer: '123', server: 'https://api:6443', certificateAuthorityData: 'Q0E=' }, 'yes');
  assert.match(odd, /^ {2}name: "123"$/m);
  assert.match(odd, /^ {4}token: "yes"$/m);
  // External Secrets renders the same text from its template.
  assert.equal(
    kubeconfigTemplate({ peer: 'east-2', server: 'https://api:6443', certificateAuthorityData: 'Q0E=' }, '{{ .token }}'),
    t.replace('eyJ.tok-en_1', '{{ .token }}'),
  );
});

test('the reader token Secret is what create-remote-secret makes on Kubernetes 1.24+, after the control plane', () => {
  const [s] = synthCluster(SINGLE, 'a').get('reader-token/reader-token.yaml') as any[];
  assert.deepEqual(s, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'istio-reader-service-account-istio-remote-secret-token',
      namespace: 'istio-system',
      annotations: { 'kubernetes.io/service-account.name': 'istio-reader-service-account', 'argocd.argoproj.io/sync-wave': '1' },
    },
    type: 'kubernetes.io/service-account-token',
  });
});

test('deepMerge: mappings merge, lists and scalars from the overlay replace', () => {
  assert.deepEqual(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, e: 2 }), { a: { b: 1, c: [3] }, d: 1, e: 2 });
});
