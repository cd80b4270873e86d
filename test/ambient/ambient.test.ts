/**
 * Ambient multicluster (issue 14): a 3-cluster, 2-network multi-primary mesh on Istio's ambient data plane, with the
 * helm, sail and operator installers; the objects against `reference/istio-ambient-multicluster.md`, field by field, and
 * against the shipped schemas.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { crdDirectory, SchemaRegistry } from '../../src/schemas/crd-validator';
import { renderApplicationSet } from '../convergence/model';
import { runCli } from '../helpers/cli';
import { BASE_YAML, type MeshSpec, makeMeshWorkdir, synthIn } from '../helpers/mesh-gen';
import { AMBIENT_MESH } from '../helpers/meshes';

const MESH: MeshSpec = AMBIENT_MESH;
const FOUND = crdDirectory();
const registry = FOUND.dir ? SchemaRegistry.load(FOUND.dir) : undefined;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function ambientMesh(installer: string, extra: Record<string, unknown> = {}, base = BASE_YAML): Promise<string> {
  const dir = await makeMeshWorkdir(MESH, { tokens: true, base });
  dirs.push(dir);
  const topo = parse(fs.readFileSync(path.join(dir, 'topology.yaml'), 'utf8'));
  topo.istio = { installer, version: '1.30.3', dataplane: 'ambient', ...extra };
  fs.writeFileSync(path.join(dir, 'topology.yaml'), stringify(topo));
  const r = await synthIn(dir, '--strict');
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /warning/, 'a multi-network ambient mesh synthesizes without warnings');
  return dir;
}
const docs = (file: string): any[] => parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS());
const values = (dir: string, cluster: string, chart: string) =>
  parse(fs.readFileSync(path.join(dir, 'dist/clusters', cluster, 'helm', `${chart}-values.yaml`), 'utf8'));

/** Every applied object of the mesh validates, and the ones named were checked against a real schema. */
function assertSchemas(dir: string, mustCheck: string[]): void {
  assert.ok(registry, `CRD schemas not found: ${FOUND.reason}`);
  const checked = new Set<string>();
  for (const c of MESH.clusters) {
    const root = path.join(dir, 'dist/clusters', c.cluster);
    for (const stage of fs.readdirSync(root)) {
      if (stage === 'helm' || !fs.statSync(path.join(root, stage)).isDirectory()) continue;
      for (const f of fs.readdirSync(path.join(root, stage)).filter((x) => x !== 'kustomization.yaml')) {
        for (const o of docs(path.join(root, stage, f))) {
          const r = registry.validate(o);
          assert.deepEqual(r.errors, [], `${c.cluster}/${stage}/${f} ${o.kind}/${o.metadata.name}`);
          if (r.schema) checked.add(`${o.apiVersion.split('/')[0]}/${o.kind}`);
        }
      }
    }
  }
  for (const k of mustCheck) assert.ok(checked.has(k), `${k} was validated against its schema (checked: ${[...checked].join(', ')})`);
}

test('helm: istiod with the ambient profile and multi-network env, cni and ztunnel charts, the network label everywhere', async () => {
  const dir = await ambientMesh('helm');
  for (const c of MESH.clusters) {
    const istiod = values(dir, c.cluster, 'istiod');
    assert.equal(istiod.profile, 'ambient');
    assert.deepEqual(istiod.global, { meshID: 'mesh1', multiCluster: { clusterName: c.cluster }, network: c.network });
    assert.equal(istiod.pilot.env.AMBIENT_ENABLE_MULTI_NETWORK, 'true');
    // The profile's rule that makes `istio.io/global: "true"` services global, kept explicitly.
    assert.deepEqual(istiod.meshConfig.serviceScopeConfigs, [
      { servicesSelector: { matchExpressions: [{ key: 'istio.io/global', operator: 'In', values: ['true'] }] }, scope: 'GLOBAL' },
    ]);
    assert.deepEqual(values(dir, c.cluster, 'cni'), { profile: 'ambient' });
    // ztunnel's cluster name defaults to `Kubernetes`: it must be istiod's.
    assert.deepEqual(values(dir, c.cluster, 'ztunnel'), { global: { network: c.network }, multiCluster: { clusterName: c.cluster } });
    assert.ok(!fs.existsSync(path.join(dir, 'dist/clusters', c.cluster, 'helm/gateway-values.yaml')), 'no sidecar east-west gateway chart');
    assert.ok(!fs.existsSync(path.join(dir, 'dist/clusters', c.cluster, 'post-install/cross-network-gateway.yaml')), 'no AUTO_PASSTHROUGH gateway');
    const [ns] = docs(path.join(dir, 'dist/clusters', c.cluster, 'secrets/namespace.yaml'));
    assert.deepEqual(ns.metadata.labels, { 'topology.istio.io/network': c.network }, 'authoritative in ambient mode, even on one network');
    // The east-west gateway of `gen-eastwest-gateway.sh --network <net> --ambient`.
    const [gw] = docs(path.join(dir, 'dist/clusters', c.cluster, 'post-install/eastwest-gateway.yaml'));
    assert.deepEqual(gw, {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: {
        name: 'istio-eastwestgateway',
        namespace: 'istio-system',
        labels: { 'topology.istio.io/network': c.network },
        annotations: { 'argocd.argoproj.io/sync-wave': '3' },
      },
      spec: {
        gatewayClassName: 'istio-east-west',
        listeners: [
          {
            name: 'mesh',
            port: 15008,
            protocol: 'HBONE',
            tls: { mode: 'Terminate', options: { 'gateway.istio.io/tls-terminate-mode': 'ISTIO_MUTUAL' } },
          },
        ],
      },
    });
    // Remote secrets both ways, as in sidecar mode.
    assert.deepEqual(
      docs(path.join(dir, 'dist/clusters', c.cluster, 'secrets/remote-secrets.yaml')).map((o) => o.metadata.name),
      MESH.clusters.filter((o) => o !== c).map((o) => `istio-remote-secret-${o.cluster}`),
    );
  }
  // Flux: cni and ztunnel after the base chart, in the control plane stage.
  const releases = docs(path.join(dir, 'dist/flux/west-1/control-plane/releases.yaml'));
  assert.deepEqual(
    releases.map(
      (r) => `${r.kind}/${r.metadata.name}:${r.spec.chart?.spec.chart ?? ''}:${(r.spec.dependsOn ?? []).map((d: any) => d.name).join(',')}`,
    ),
    [
      'HelmRepository/istio::',
      'HelmRelease/istio-base:base:',
      'HelmRelease/istiod:istiod:istio-base',
      'HelmRelease/istio-cni:cni:istio-base',
      'HelmRelease/ztunnel:ztunnel:istio-base',
    ],
  );
  assert.ok(!fs.existsSync(path.join(dir, 'dist/flux/west-1/gateway')));
  // Argo CD: the four charts in the cluster's Application, no gateway chart.
  const [appset] = docs(path.join(dir, 'dist/argocd/applicationset.yaml'));
  const app = renderApplicationSet(appset).find((a) => a.metadata.name === 'mesh1-west-1') as any;
  assert.deepEqual(
    app.spec.sources.map((s: any) => s.path ?? s.chart ?? `ref:${s.ref}`),
    ['dist/clusters/west-1', 'base', 'istiod', 'cni', 'ztunnel', 'ref:values'],
  );
  assertSchemas(dir, ['gateway.networking.k8s.io/Gateway', 'bitnami.com/SealedSecret']);
  const v = await runCli(['validate', '--workdir', dir]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});

test('sail: Istio (ambient profile, env, trusted ztunnel namespace), IstioCNI and ZTunnel, validated against the Sail CRDs', async () => {
  const dir = await ambientMesh('sail');
  const c = 'west-1';
  const cp = docs(path.join(dir, 'dist/clusters', c, 'control-plane/control-plane.yaml'));
  assert.deepEqual(
    cp.map((o) => `${o.kind}/${o.metadata.name}`),
    ['Istio/default', 'IstioCNI/default', 'ZTunnel/default'],
  );
  const [istio, cni, ztunnel] = cp;
  assert.equal(istio.spec.profile, 'ambient');
  assert.equal(istio.spec.namespace, 'istio-system');
  assert.equal(istio.spec.version, 'v1.30.3');
  assert.deepEqual(istio.spec.values.global, { meshID: 'mesh1', multiCluster: { clusterName: c }, network: 'net2' });
  assert.equal(istio.spec.values.pilot.env.AMBIENT_ENABLE_MULTI_NETWORK, 'true');
  assert.equal(istio.spec.values.pilot.trustedZtunnelNamespace, 'ztunnel');
  assert.deepEqual(cni.spec, { version: 'v1.30.3', profile: 'ambient', namespace: 'istio-cni' });
  assert.deepEqual(ztunnel.spec, {
    version: 'v1.30.3',
    namespace: 'ztunnel',
    values: { ztunnel: { multiCluster: { clusterName: c }, network: 'net2' } },
  });
  for (const o of cp) assert.equal(o.metadata.annotations['argocd.argoproj.io/sync-wave'], '0');
  // Their namespaces exist before them.
  assert.deepEqual(
    docs(path.join(dir, 'dist/clusters', c, 'secrets/namespace.yaml')).map((o) => o.metadata.name),
    ['istio-system', 'istio-cni', 'ztunnel'],
  );
  assert.ok(fs.existsSync(path.join(dir, 'dist/clusters', c, 'post-install/eastwest-gateway.yaml')));
  assert.ok(!fs.existsSync(path.join(dir, 'dist/flux', c, 'gateway')), 'no gateway chart with ambient');
  assertSchemas(dir, ['sailoperator.io/Istio', 'sailoperator.io/IstioCNI', 'sailoperator.io/ZTunnel', 'gateway.networking.k8s.io/Gateway']);
});

test('operator: the IstioOperator of the ambient multicluster guide', async () => {
  const dir = await ambientMesh('operator');
  const [iop] = docs(path.join(dir, 'dist/clusters/east-1/control-plane/control-plane.yaml'));
  assert.equal(iop.apiVersion, 'install.istio.io/v1alpha1');
  assert.equal(iop.spec.profile, 'ambient');
  assert.deepEqual(iop.spec.components.pilot.k8s.env, [{ name: 'AMBIENT_ENABLE_MULTI_NETWORK', value: 'true' }]);
  assert.deepEqual(iop.spec.values.global, { meshID: 'mesh1', multiCluster: { clusterName: 'east-1' }, network: 'net1' });
  assert.ok(!fs.existsSync(path.join(dir, 'dist/clusters/east-1/istioctl/eastwest-gateway.yaml')), 'the Gateway is a manifest, not an IstioOperator');
});

test('a revision labels the east-west Gateway (istio.io/rev) and names the istiod release', async () => {
  const dir = await ambientMesh('helm', { revision: '1-30' });
  const [gw] = docs(path.join(dir, 'dist/clusters/east-1/post-install/eastwest-gateway.yaml'));
  assert.deepEqual(gw.metadata.labels, { 'topology.istio.io/network': 'net1', 'istio.io/rev': '1-30' });
  assert.equal(values(dir, 'east-1', 'ztunnel').revision, '1-30');
  const releases = docs(path.join(dir, 'dist/flux/east-1/control-plane/releases.yaml')).map((r) => r.metadata.name);
  assert.ok(releases.includes('istiod-1-30'));
});

test("base.yaml's serviceScopeConfigs and istiod env survive the merge, beside the ambient rule and env", async () => {
  const base =
    'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  meshConfig:\n    serviceScopeConfigs:\n' +
    '      - namespaceSelector: {matchLabels: {team: payments}}\n        scope: GLOBAL\n' +
    '  components:\n    pilot:\n      k8s:\n        env:\n          - {name: PILOT_TRACE_SAMPLING, value: "1"}\n';
  const dir = await ambientMesh('helm', {}, base);
  const istiod = values(dir, 'east-1', 'istiod');
  assert.deepEqual(istiod.meshConfig.serviceScopeConfigs, [
    { namespaceSelector: { matchLabels: { team: 'payments' } }, scope: 'GLOBAL' },
    { servicesSelector: { matchExpressions: [{ key: 'istio.io/global', operator: 'In', values: ['true'] }] }, scope: 'GLOBAL' },
  ]);
  assert.deepEqual(istiod.pilot.env, { AMBIENT_ENABLE_MULTI_NETWORK: 'true', PILOT_TRACE_SAMPLING: '1' });
});

test('a single-network ambient mesh synthesizes with a warning (untested upstream); sidecar stays the default', async () => {
  const dir = await makeMeshWorkdir({ ...MESH, clusters: MESH.clusters.slice(0, 2) }, { tokens: true });
  dirs.push(dir);
  const topo = parse(fs.readFileSync(path.join(dir, 'topology.yaml'), 'utf8'));
  const sidecar = await synthIn(dir);
  assert.equal(sidecar.code, 0, sidecar.stderr);
  assert.ok(!fs.existsSync(path.join(dir, 'dist/clusters/east-1/helm/ztunnel-values.yaml')), 'sidecar by default');
  topo.istio = { dataplane: 'ambient', version: '1.30.3' };
  fs.writeFileSync(path.join(dir, 'topology.yaml'), stringify(topo));
  const r = await synthIn(dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /ambient on a single network: .*untested upstream/);
  assert.ok(!fs.existsSync(path.join(dir, 'dist/clusters/east-1/post-install/eastwest-gateway.yaml')), 'one network: no east-west gateway');
});
