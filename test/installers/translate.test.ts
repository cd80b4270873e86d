/**
 * IstioOperator → Helm values, field by field, against Istio's Helm guides:
 * https://istio.io/latest/docs/setup/install/multicluster/multi-primary_multi-network/ and
 * https://istio.io/latest/docs/setup/install/multicluster/primary-remote_multi-network/ (Helm tabs), and
 * `istioctl manifest translate` (operator/pkg/render/manifest.go).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import { Testing } from 'cdk8s';
import { ControlPlane, type ControlPlaneProps } from '../../src/charts/control-plane';
import { EastWestGateway, type EastWestGatewayProps } from '../../src/charts/east-west-gateway';
import { type HelmValues, sortKeys, translateControlPlane, translateEastWestGateway } from '../../src/installers/translate';
import { deepMerge } from '../../src/util/records';
import { CRDS_DIR } from '../helpers/schemas';

/** The spec of the IstioOperator the `operator` installer writes for these props. */
function controlPlaneSpec(props: Partial<ControlPlaneProps> = {}): Record<string, any> {
  const chart = Testing.chart();
  new ControlPlane(chart, 'cp', { base: { profile: 'default' }, meshID: 'mesh1', clusterName: 'cluster1', network: 'network1', ...props });
  const [iop] = Testing.synth(chart);
  assert.equal(iop.kind, 'IstioOperator');
  return iop.spec;
}

function eastWestSpec(props: EastWestGatewayProps): Record<string, any> {
  const chart = Testing.chart();
  new EastWestGateway(chart, 'ew', props);
  return Testing.synth(chart)[0].spec;
}

const gatewaySchema = (() => {
  const raw = JSON.parse(fs.readFileSync(path.join(CRDS_DIR, 'istio-values-schemas', 'gateway.values.schema.json'), 'utf8'));
  delete raw.$schema; // "http://json-schema.org/schema#": no draft named; the schema uses $defs (2019-09+).
  return new Ajv2020({ strict: false, allErrors: true }).compile(raw);
})();
function assertGatewayValuesValid(values: HelmValues) {
  assert.ok(gatewaySchema(values), `gateway values valid against gateway.values.schema.json: ${JSON.stringify(gatewaySchema.errors)}`);
}

function deletePath(obj: Record<string, any>, dotted: string) {
  const keys = dotted.split('.');
  const parents: Record<string, any>[] = [obj];
  for (const k of keys.slice(0, -1)) parents.push(parents[parents.length - 1][k]);
  delete parents[parents.length - 1][keys[keys.length - 1]];
  // Remove the mappings the deletion emptied.
  for (let i = keys.length - 2; i >= 0; i--) {
    if (Object.keys(parents[i + 1]).length === 0) delete parents[i][keys[i]];
  }
}

/** Every leaf of `values` as [dotted path, value]. */
function leaves(values: unknown, prefix = ''): [string, unknown][] {
  if (values === null || typeof values !== 'object' || Array.isArray(values)) return [[prefix, values]];
  return Object.entries(values).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
}
function at(values: any, dotted: string): unknown {
  return dotted.split('.').reduce((cur, k) => (cur === undefined ? undefined : cur[k]), values);
}

test('multi-network primary: spec.values become the istiod values as they are; base gets nothing', () => {
  // GIVEN the IstioOperator of cluster1 in multi-primary multi-network
  const spec = controlPlaneSpec();
  // WHEN
  const t = translateControlPlane(spec);
  // THEN = `helm install istiod istio/istiod --set global.meshID=mesh1 --set global.multiCluster.clusterName=cluster1 --set global.network=network1`
  assert.deepEqual(t.istiod, { global: { meshID: 'mesh1', multiCluster: { clusterName: 'cluster1' }, network: 'network1' } });
  assert.deepEqual(t.base, {}, '`helm install istio-base istio/base` with no values');
  assert.deepEqual(t.problems, []);
  assert.deepEqual(t.additions, []);
});

test('primary serving remotes: externalIstiod on base and istiod, plus istiod pilot.env.EXTERNAL_ISTIOD', () => {
  const t = translateControlPlane(controlPlaneSpec({ externalIstiod: true }));
  // base: `--set global.externalIstiod=true`
  assert.deepEqual(t.base, { global: { externalIstiod: true } });
  // istiod: `--set pilot.env.EXTERNAL_ISTIOD=true --set global.meshID=mesh1 --set global.externalIstiod=true
  //          --set global.multiCluster.clusterName=cluster1 --set global.network=network1`
  assert.deepEqual(t.istiod, {
    global: { externalIstiod: true, meshID: 'mesh1', multiCluster: { clusterName: 'cluster1' }, network: 'network1' },
    pilot: { env: { EXTERNAL_ISTIOD: 'true' } },
  });
  assert.deepEqual(
    t.additions.map((a) => `${a.chart}:${a.path}`),
    ['istiod:pilot.env.EXTERNAL_ISTIOD'],
  );
  assert.deepEqual(t.problems, []);
});

test('remote: profile remote on base and istiod, injectionPath, remotePilotAddress, and the Helm guide settings', () => {
  const t = translateControlPlane(controlPlaneSpec({ clusterName: 'cluster2', network: 'network2', remote: { remotePilotAddress: '192.0.2.10' } }));
  // base: `--set profile=remote --set global.externalIstiod=true`
  assert.deepEqual(t.base, { global: { externalIstiod: true }, profile: 'remote' });
  // istiod: `--set profile=remote --set pilot.env.EXTERNAL_ISTIOD=true --set global.multiCluster.clusterName=cluster2
  //          --set global.network=network2 --set istiodRemote.injectionPath=/inject/cluster/cluster2/net/network2
  //          --set global.configCluster=true --set global.remotePilotAddress=${DISCOVERY_ADDRESS} --set pilot.enabled=false`
  // (+ meshID, which meshgen sets on every cluster)
  assert.deepEqual(t.istiod, {
    global: {
      configCluster: true,
      meshID: 'mesh1',
      multiCluster: { clusterName: 'cluster2' },
      network: 'network2',
      remotePilotAddress: '192.0.2.10',
    },
    istiodRemote: { injectionPath: '/inject/cluster/cluster2/net/network2' },
    pilot: { enabled: false, env: { EXTERNAL_ISTIOD: 'true' } },
    profile: 'remote',
  });
  assert.deepEqual(t.additions.map((a) => `${a.chart}:${a.path}`).sort(), [
    'base:global.externalIstiod',
    'istiod:global.configCluster',
    'istiod:pilot.enabled',
    'istiod:pilot.env.EXTERNAL_ISTIOD',
  ]);
  assert.ok(t.additions.every((a) => a.reason.includes('istio.io')));
  assert.deepEqual(t.problems, []);
});

test('revision: istiod revision, and base defaultRevision so the default validator points at istiod-<rev>', () => {
  const t = translateControlPlane(controlPlaneSpec({ revision: '1-30' }));
  assert.equal(t.istiod.revision, '1-30');
  assert.equal(t.base.defaultRevision, '1-30');
  assert.deepEqual(t.additions, [
    {
      chart: 'base',
      path: 'defaultRevision',
      value: '1-30',
      reason:
        "the base chart's default validating webhook must point at the revisioned istiod (https://istio.io/latest/docs/setup/upgrade/helm/#canary-upgrade-recommended)",
    },
  ]);
  // A defaultRevision the user set wins.
  const own = translateControlPlane(controlPlaneSpec({ revision: '1-30', base: { values: { defaultRevision: 'default' } } }));
  assert.equal(own.base.defaultRevision, 'default');
  assert.deepEqual(own.additions, []);
});

test('hub, tag, meshConfig and compatibilityVersion become global.hub, global.tag, meshConfig, compatibilityVersion; spec.values win', () => {
  const t = translateControlPlane({
    hub: 'registry.example.com/istio',
    tag: '1.30.3-distroless',
    compatibilityVersion: '1.29',
    meshConfig: { accessLogFile: '/dev/stdout', defaultConfig: { holdApplicationUntilProxyStarts: true } },
    values: { global: { meshID: 'm', tag: '1.30.3' }, meshConfig: { accessLogFile: '/dev/null' } },
  });
  assert.deepEqual(t.istiod, {
    compatibilityVersion: '1.29',
    global: { hub: 'registry.example.com/istio', meshID: 'm', tag: '1.30.3' },
    meshConfig: { accessLogFile: '/dev/null', defaultConfig: { holdApplicationUntilProxyStarts: true } },
  });
  assert.deepEqual(t.problems, []);
  // A numeric tag (istioctl accepts `tag: 1.30`) stays as written, not 1.3.
  assert.equal((translateControlPlane({ tag: '1.30' }).istiod.global as any).tag, '1.30');
});

test('components.pilot: env, envVarFrom, resources, hpaSpec, strategy and scheduling map to istiod pilot.* values', () => {
  const t = translateControlPlane({
    values: { pilot: { env: { PILOT_TRACE_SAMPLING: '1', KEEP: 'x' } } },
    components: {
      pilot: {
        enabled: true,
        hub: 'hub.example.com',
        tag: 'debug',
        k8s: {
          env: [
            { name: 'PILOT_TRACE_SAMPLING', value: '5' },
            { name: 'ISTIO_MULTIROOT_MESH', value: 'true' },
            { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          ],
          resources: { requests: { cpu: '1', memory: '2Gi' } },
          hpaSpec: {
            minReplicas: 2,
            maxReplicas: 7,
            metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }],
          },
          strategy: { rollingUpdate: { maxSurge: '50%', maxUnavailable: 0 } },
          replicaCount: 2,
          nodeSelector: { pool: 'system' },
          tolerations: [{ key: 'dedicated', operator: 'Exists' }],
          podAnnotations: { a: 'b' },
          serviceAnnotations: { c: 'd' },
        },
      },
    },
  });
  assert.deepEqual(t.problems, []);
  assert.deepEqual(t.istiod.pilot, {
    autoscaleMax: 7,
    autoscaleMin: 2,
    cpu: { targetAverageUtilization: 60 },
    enabled: true,
    env: { ISTIO_MULTIROOT_MESH: 'true', KEEP: 'x', PILOT_TRACE_SAMPLING: '5' }, // the component's env wins, as istioctl's patch would
    envVarFrom: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
    hub: 'hub.example.com',
    nodeSelector: { pool: 'system' },
    podAnnotations: { a: 'b' },
    replicaCount: 2,
    resources: { requests: { cpu: '1', memory: '2Gi' } },
    rollingMaxSurge: '50%',
    rollingMaxUnavailable: 0,
    serviceAnnotations: { c: 'd' },
    tag: 'debug',
    tolerations: [{ key: 'dedicated', operator: 'Exists' }],
  });
});

test('fields with no Helm equivalent are reported with their path, and left out of the values', () => {
  // GIVEN an IstioOperator with settings the base/istiod charts cannot express
  const t = translateControlPlane({
    profile: 'external',
    installPackagePath: '/tmp/istio',
    namespace: 'istio-control',
    bogus: 1,
    values: { global: { meshID: 'm' }, gateways: { 'istio-ingressgateway': { type: 'NodePort' } }, cni: { enabled: true }, pilott: {} },
    components: {
      cni: { enabled: true },
      ztunnel: { enabled: true },
      base: { enabled: false },
      ingressGateways: [
        { name: 'istio-ingressgateway', enabled: true },
        { name: 'off', enabled: false },
      ],
      egressGateways: [{ name: 'istio-egressgateway' }],
      pilot: {
        k8s: {
          overlays: [{ kind: 'Deployment', name: 'istiod', patches: [] }],
          service: { type: 'NodePort' },
          priorityClassName: 'system-cluster-critical',
          hpaSpec: { metrics: [{ type: 'Pods' }] },
        },
      },
    },
  });
  // THEN each is a problem at its path...
  assert.deepEqual(t.problems.map((p) => p.path).sort(), [
    'spec.bogus',
    'spec.components.base.enabled',
    'spec.components.cni',
    'spec.components.egressGateways[0]',
    'spec.components.ingressGateways[0]',
    'spec.components.pilot.k8s.hpaSpec.metrics[0]',
    'spec.components.pilot.k8s.overlays',
    'spec.components.pilot.k8s.priorityClassName',
    'spec.components.pilot.k8s.service',
    'spec.components.ztunnel',
    'spec.installPackagePath',
    'spec.namespace',
    'spec.profile',
    'spec.values.cni',
    'spec.values.gateways',
    'spec.values.pilott',
  ]);
  for (const p of t.problems) {
    assert.ok(p.message.length > 0 && p.fix.length > 0, `${p.path} has a message and a fix`);
  }
  assert.match(t.problems.find((p) => p.path === 'spec.components.cni')?.message ?? '', /cni/);
  // ...and no trace of them is left in the values (cni.enabled is still told to istiod, as istioctl does).
  assert.deepEqual(t.istiod, { global: { meshID: 'm' }, pilot: { cni: { enabled: true } } });
  assert.deepEqual(t.base, {});
});

test('profiles: default and minimal need none; Helm profiles pass to istiod; disabled components are not problems', () => {
  assert.equal(translateControlPlane({ profile: 'default' }).istiod.profile, undefined);
  assert.equal(translateControlPlane({ profile: 'minimal' }).istiod.profile, undefined);
  const demo = translateControlPlane({ profile: 'demo', components: { cni: { enabled: false }, egressGateways: [{ name: 'e', enabled: false }] } });
  assert.equal(demo.istiod.profile, 'demo');
  assert.equal(demo.base.profile, undefined, 'only remote goes to base');
  assert.deepEqual(demo.problems, []);
  assert.deepEqual(
    translateControlPlane({ profile: 'ambient' }).problems.map((p) => p.path),
    ['spec.profile'],
  );
});

test('the input is not modified and the output shares nothing with it', () => {
  const spec = controlPlaneSpec({ externalIstiod: true, base: { profile: 'default', meshConfig: { a: { b: 1 } } } });
  const before = structuredClone(spec);
  const t = translateControlPlane(spec);
  assert.deepEqual(spec, before);
  (t.istiod.global as any).meshID = 'changed';
  (t.istiod.meshConfig as any).a.b = 2;
  assert.deepEqual(spec, before);
});

test('keys are sorted at every level (deterministic values files and HelmRelease values)', () => {
  const t = translateControlPlane({ values: { pilot: { z: 1, a: { y: 1, b: 2 } }, global: { meshID: 'm' } } });
  assert.deepEqual(Object.keys(t.istiod), ['global', 'pilot']);
  assert.deepEqual(Object.keys(t.istiod.pilot as object), ['a', 'z']);
  assert.deepEqual(Object.keys((t.istiod.pilot as any).a), ['b', 'y']);
  assert.deepEqual(sortKeys([{ b: 1, a: 2 }]), [{ a: 2, b: 1 }]);
});

/** The inputs of every control plane kind meshgen renders, with base.yaml settings on top. */
const CASES: Record<string, Partial<ControlPlaneProps>> = {
  'multi-network primary': {},
  'primary serving remotes': { externalIstiod: true },
  remote: { clusterName: 'cluster2', network: 'network2', remote: { remotePilotAddress: 'istiod.example.com' } },
  'revisioned remote': { revision: 'canary', remote: { remotePilotAddress: '192.0.2.1' } },
  'base.yaml with hub, tag, meshConfig and values': {
    revision: '1-30',
    base: {
      profile: 'default',
      hub: 'docker.io/istio',
      tag: '1.30.3',
      meshConfig: { accessLogFile: '/dev/stdout' },
      values: { pilot: { env: { PILOT_ENABLE_WORKLOAD_ENTRY_AUTOREGISTRATION: 'true' } }, global: { proxy: { logLevel: 'debug' } } },
    },
  },
};

for (const [name, props] of Object.entries(CASES)) {
  test(`${name}: the istiod values are the IstioOperator's values, mapped as istioctl does, plus only the listed additions`, () => {
    // GIVEN the IstioOperator the operator installer renders
    const spec = controlPlaneSpec(props);
    // WHEN
    const t = translateControlPlane(spec);
    // THEN every value of spec.values is in the istiod values, unchanged
    for (const [p, v] of leaves(spec.values)) assert.deepEqual(at(t.istiod, p), v, `spec.values.${p}`);
    // and the istiod values minus the additions are exactly spec.values + the mapped top-level fields
    const mapped: Record<string, unknown> = {};
    if (spec.hub) mapped.global = { hub: spec.hub };
    if (spec.tag) mapped.global = { ...(mapped.global as object), tag: spec.tag };
    if (spec.revision) mapped.revision = spec.revision;
    if (spec.meshConfig) mapped.meshConfig = spec.meshConfig;
    if (spec.profile === 'remote') mapped.profile = 'remote';
    const istiod = structuredClone(t.istiod) as Record<string, any>;
    for (const a of t.additions.filter((x) => x.chart === 'istiod')) deletePath(istiod, a.path);
    assert.deepEqual(istiod, sortKeys(deepMerge(mapped, spec.values)));
    // and base holds only base-chart values from spec.values and base additions
    const base = structuredClone(t.base) as Record<string, any>;
    for (const a of t.additions.filter((x) => x.chart === 'base')) deletePath(base, a.path);
    for (const [p, v] of leaves(base)) assert.deepEqual(at(spec.values, p) ?? (p === 'profile' ? spec.profile : undefined), v, `base ${p}`);
    assert.deepEqual(t.problems, []);
  });
}

test('east-west gateway: gen-eastwest-gateway.sh IstioOperator → gateway chart name, networkGateway, labels', () => {
  // GIVEN `gen-eastwest-gateway.sh --network network1`
  const t = translateEastWestGateway(eastWestSpec({ network: 'network1' }));
  const gateway: HelmValues = t.gateway;
  // THEN networkGateway makes the chart add the network label, ISTIO_META_REQUESTED_NETWORK_VIEW and ports
  // 15021/15443/15012/15017: none is repeated (a repeated label would be a duplicate key in the rendered pod labels)
  assert.equal((gateway.labels as any)['topology.istio.io/network'], undefined);
  assert.equal(gateway.env, undefined);
  assert.equal(gateway.service, undefined, 'LoadBalancer is the chart default');
  // and the values are `helm install istio-eastwestgateway istio/gateway --set name=istio-eastwestgateway --set networkGateway=network1`
  assert.deepEqual(gateway, {
    labels: { app: 'istio-eastwestgateway', istio: 'eastwestgateway' },
    name: 'istio-eastwestgateway',
    networkGateway: 'network1',
  });
  assert.deepEqual(t.problems, []);
  assertGatewayValuesValid(gateway);
});

test('east-west gateway: revision and a non-LoadBalancer service type', () => {
  const t = translateEastWestGateway(eastWestSpec({ network: 'net2', serviceType: 'NodePort', revision: '1-30' }));
  assert.equal(t.gateway.revision, '1-30', '`--set revision=<rev>`');
  assert.deepEqual(t.gateway.service, { type: 'NodePort' });
  assert.equal(t.gateway.networkGateway, 'net2');
  assert.deepEqual(t.problems, []);
  assertGatewayValuesValid(t.gateway);
});

test('east-west gateway: extra settings map to gateway chart values; the rest is reported', () => {
  const spec = eastWestSpec({ network: 'net1' });
  const gw = spec.components.ingressGateways[0];
  gw.k8s.env.push({ name: 'EXTRA', value: 'x' });
  gw.k8s.resources = { requests: { cpu: '200m' } };
  gw.k8s.hpaSpec = { minReplicas: 2, maxReplicas: 4 };
  gw.k8s.serviceAnnotations = { 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' };
  gw.k8s.overlays = [];
  gw.hub = 'example.com';
  spec.components.ingressGateways.push({ name: 'second', enabled: true });
  spec.meshConfig = { accessLogFile: '/dev/stdout' };
  const t = translateEastWestGateway(spec);
  assert.deepEqual(t.gateway.env, { EXTRA: 'x' });
  assert.deepEqual(t.gateway.resources, { requests: { cpu: '200m' } });
  assert.deepEqual(t.gateway.autoscaling, { maxReplicas: 4, minReplicas: 2 });
  assert.deepEqual(t.gateway.service, { annotations: { 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' } });
  assert.deepEqual(t.problems.map((p) => p.path).sort(), [
    'spec.components.ingressGateways[0].hub',
    'spec.components.ingressGateways[0].k8s.overlays',
    'spec.components.ingressGateways[1]',
    'spec.meshConfig',
  ]);
  assertGatewayValuesValid(t.gateway);
});

test('east-west gateway: a network view or port that differs from networkGateway is reported, not repeated', () => {
  const spec = eastWestSpec({ network: 'net1' });
  spec.components.ingressGateways[0].k8s.env[0].value = 'other';
  spec.components.ingressGateways[0].k8s.service.ports.pop();
  const t = translateEastWestGateway(spec);
  assert.deepEqual(t.problems.map((p) => p.path).sort(), [
    'spec.components.ingressGateways[0].k8s.env[0]',
    'spec.components.ingressGateways[0].k8s.service.ports',
  ]);
  assert.equal(t.gateway.env, undefined);
});

test('the gateway values of every east-west rendering validate against the gateway chart values.schema.json', () => {
  for (const props of [
    { network: 'n1' },
    { network: 'n2', serviceType: 'NodePort', revision: 'canary' },
    { network: 'n3', serviceType: 'ClusterIP' },
  ]) {
    const t = translateEastWestGateway(eastWestSpec(props));
    assert.deepEqual(t.problems, []);
    assertGatewayValuesValid(t.gateway);
  }
  // The schema is strict: a misspelt value is caught.
  assert.equal(gatewaySchema({ networkGatway: 'n1' }), false);
});
