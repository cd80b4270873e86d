/**
 * Two control plane revisions side by side and revision tags (a canary upgrade), per cluster, field by field against
 * Istio's templates: the tag webhooks against `manifests/charts/istio-control/istio-discovery/templates/
 * revision-tags-mwc.yaml`, the istiod exposure against `samples/multicluster/expose-istiod-rev.yaml.tmpl`, the releases
 * against https://istio.io/latest/docs/setup/upgrade/helm/#canary-upgrade-recommended.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App } from 'cdk8s';
import { ClusterChart } from '../../src/charts/cluster-chart';
import { RevisionTags } from '../../src/charts/revision-tags';
import { parseTopology } from '../../src/topology/load';
import { defaultRevisionOf, gatewayRevisionOf, type Mesh, newestVersion } from '../../src/topology/model';
import { assertValid } from '../helpers/schemas';

/** Four clusters on two networks: p1 (net1) serves r1 (net1); p2 (net2) serves r2 (net1, another network than p2). */
function mesh(installer: string, istio: string): Mesh {
  return parseTopology(`mesh_id: mesh1
istio:
  installer: ${installer}
${istio}
contexts:
  p1: {network: net1, eastWestGateway: {address: 192.0.2.1}}
  p2: {network: net2, eastWestGateway: {address: 192.0.2.2}}
  r1: {network: net1, role: remote, primary: p1}
  r2: {network: net1, role: remote, primary: p2}
`);
}

const CACERTS = { 'ca-cert.pem': 'A', 'ca-key.pem': 'B', 'cert-chain.pem': 'C', 'root-cert.pem': 'D' };

const HELM_CANARY = `  revisions:
    1-29-2: {version: 1.29.2}
    1-30-3: {version: 1.30.3}
  tags:
    default: 1-30-3
    prod: 1-29-2`;

function chart(m: Mesh, name: string): ClusterChart {
  const cluster = m.clusters.find((c) => c.name === name);
  assert.ok(cluster);
  return new ClusterChart(new App(), name, {
    mesh: m,
    cluster,
    base: { profile: 'default' },
    secrets: {
      provider: 'sealed-secrets',
      cacerts: { 'ca-cert.pem': 'A', 'ca-key.pem': 'B', 'cert-chain.pem': 'C', 'root-cert.pem': 'D' },
      remoteSecrets: [],
    },
  });
}

const byName = (objs: any[] | undefined, name: string) => {
  const o = (objs ?? []).find((x) => x.metadata.name === name);
  assert.ok(o, `${name} is generated`);
  return o;
};

test('the model: revisions in topology order, tags sorted, the gateway on the default tag, base at the newest version', () => {
  const m = mesh('helm', HELM_CANARY);
  assert.deepEqual(
    m.istio.revisions.map((r) => [r.name, r.version]),
    [
      ['1-29-2', '1.29.2'],
      ['1-30-3', '1.30.3'],
    ],
  );
  assert.deepEqual(m.istio.tags, [
    { name: 'default', revision: '1-30-3' },
    { name: 'prod', revision: '1-29-2' },
  ]);
  assert.deepEqual(gatewayRevisionOf(m), { label: 'default', revision: { name: '1-30-3', version: '1.30.3' } });
  assert.equal(defaultRevisionOf(m), '1-30-3');
  assert.equal(newestVersion(m), '1.30.3');
  // The shorthand is one revision; an explicit gatewayRevision wins over the default tag.
  const short = mesh('helm', '  version: 1.30.3\n  revision: 1-30-3\n  tags: {default: 1-30-3}\n  gatewayRevision: 1-30-3');
  assert.deepEqual(short.istio.revisions, [{ name: '1-30-3', version: '1.30.3' }]);
  assert.equal(gatewayRevisionOf(short).label, '1-30-3');
  assert.equal(short.istio.revisionBased, false);
  assert.equal(m.istio.revisionBased, true);
});

test('helm, primary: one istiod per revision with its version, base at the newest with defaultRevision of the default tag', () => {
  const c = chart(mesh('helm', HELM_CANARY), 'p1');
  const helm = c.helm;
  assert.ok(helm?.istiods);
  assert.deepEqual(
    helm.istiods.map((r) => [r.revision, r.version, r.values.revision]),
    [
      ['1-29-2', '1.29.2', '1-29-2'],
      ['1-30-3', '1.30.3', '1-30-3'],
    ],
  );
  assert.equal(helm.baseVersion, '1.30.3');
  assert.equal(helm.base?.defaultRevision, '1-30-3');
  // The gateway runs on the default tag and takes its revision's chart version; Flux waits for that istiod release.
  assert.equal(helm.gateway?.revision, 'default');
  assert.equal(helm.gatewayVersion, '1.30.3');
  assert.equal(helm.gatewayRevision, '1-30-3');
  // Each revision's IstioOperator (istioctl input) is named after it.
  assert.deepEqual(
    [...c.istioctl.keys()],
    ['istioctl/control-plane-1-29-2.yaml', 'istioctl/control-plane-1-30-3.yaml', 'istioctl/eastwest-gateway.yaml'],
  );
});

test('primary serving remotes: istiod-vs-<rev> per revision, each matched by its own SNI (expose-istiod-rev.yaml.tmpl)', () => {
  const exposure: any[] | undefined = chart(mesh('helm', HELM_CANARY), 'p1').files().get('post-install/istiod-exposure.yaml');
  assert.deepEqual(
    exposure?.map((o) => `${o.kind}/${o.metadata.name}`),
    ['Gateway/istiod-gateway', 'VirtualService/istiod-vs-1-29-2', 'VirtualService/istiod-vs-1-30-3'],
  );
  for (const rev of ['1-29-2', '1-30-3']) {
    const vs = byName(exposure, `istiod-vs-${rev}`);
    const host = `istiod-${rev}.istio-system.svc.cluster.local`;
    assert.deepEqual(vs.spec.tls, [
      { match: [{ port: 15012, sniHosts: [`istiod-${rev}.istio-system.svc`, host] }], route: [{ destination: { host, port: { number: 15012 } } }] },
      { match: [{ port: 15017, sniHosts: [`istiod-${rev}.istio-system.svc`, host] }], route: [{ destination: { host, port: { number: 443 } } }] },
    ]);
  }
  // Beside a named revision, the unrevisioned istiod takes only its own SNI, not "*".
  const mixed = parseTopology(`mesh_id: m
istio: {version: 1.30.3}
contexts:
  p1: {network: n1, eastWestGateway: {address: 192.0.2.1}}
  r1: {network: n1, role: remote, primary: p1}
`);
  const single = chart(mixed, 'p1').files().get('post-install/istiod-exposure.yaml');
  assert.deepEqual(byName(single, 'istiod-vs').spec.tls[0].match[0].sniHosts, ['*']);
});

test('tag webhooks: the chart template, one MutatingWebhookConfiguration per tag, labelled with the revision istiod patches', () => {
  const files = chart(mesh('helm', HELM_CANARY), 'p1').files();
  const tags: any[] | undefined = files.get(`post-install/${RevisionTags.FILE}`);
  assert.deepEqual(
    tags?.map((o) => [o.metadata.name, o.metadata.labels['istio.io/rev'], o.metadata.labels['istio.io/tag']]),
    [
      ['istio-revision-tag-default', '1-30-3', 'default'],
      ['istio-revision-tag-prod', '1-29-2', 'prod'],
    ],
  );
  const def = byName(tags, 'istio-revision-tag-default');
  assert.equal(def.metadata.annotations['argocd.argoproj.io/sync-wave'], '1', 'after the charts (wave 0): the istiod it calls is healthy');
  // The default tag: rev.namespace / rev.object for istio.io/rev=default, plus the unrevisioned control plane's selectors.
  assert.deepEqual(
    def.webhooks.map((w: any) => w.name),
    [
      'rev.namespace.sidecar-injector.istio.io',
      'rev.object.sidecar-injector.istio.io',
      'namespace.sidecar-injector.istio.io',
      'object.sidecar-injector.istio.io',
    ],
  );
  const [revNs, revObj, ns, obj] = def.webhooks;
  assert.deepEqual(revNs.namespaceSelector.matchExpressions, [
    { key: 'istio.io/rev', operator: 'In', values: ['default'] },
    { key: 'istio-injection', operator: 'DoesNotExist' },
  ]);
  assert.deepEqual(revNs.objectSelector.matchExpressions, [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }]);
  assert.deepEqual(revObj.objectSelector.matchExpressions, [
    { key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] },
    { key: 'istio.io/rev', operator: 'In', values: ['default'] },
  ]);
  assert.deepEqual(ns.namespaceSelector.matchExpressions, [{ key: 'istio-injection', operator: 'In', values: ['enabled'] }]);
  assert.deepEqual(obj.objectSelector.matchExpressions, [
    { key: 'sidecar.istio.io/inject', operator: 'In', values: ['true'] },
    { key: 'istio.io/rev', operator: 'DoesNotExist' },
  ]);
  for (const w of def.webhooks) {
    assert.deepEqual(w.clientConfig, { service: { name: 'istiod-1-30-3', namespace: 'istio-system', path: '/inject', port: 443 } });
    assert.equal(w.failurePolicy, 'Fail');
    assert.equal(w.sideEffects, 'None');
    assert.equal(w.reinvocationPolicy, 'Never');
    assert.deepEqual(w.rules, [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }]);
    assert.equal(w.clientConfig.caBundle, undefined, 'istiod of the labelled revision patches it');
  }
  // Another tag: only its own istio.io/rev selectors.
  const prod = byName(tags, 'istio-revision-tag-prod');
  assert.equal(prod.webhooks.length, 2);
  assert.equal(prod.webhooks[0].clientConfig.service.name, 'istiod-1-29-2');
  assert.deepEqual(prod.webhooks[0].namespaceSelector.matchExpressions[0], { key: 'istio.io/rev', operator: 'In', values: ['prod'] });
  assertValid(tags ?? []);
});

test('tag webhooks on a remote: the injection path of the remote, through the istiod-<rev> Service its chart points at the primary', () => {
  const m = mesh('helm', HELM_CANARY);
  const c = chart(m, 'r2');
  const def = byName(c.files().get(`post-install/${RevisionTags.FILE}`), 'istio-revision-tag-default');
  for (const w of def.webhooks) {
    assert.deepEqual(w.clientConfig.service, { name: 'istiod-1-30-3', namespace: 'istio-system', path: '/inject/cluster/r2/net/net1', port: 443 });
  }
  // The remote runs one istiod (remote profile) release per revision, each pointing at the primary's address.
  assert.deepEqual(
    c.helm?.istiods?.map((r) => [
      r.revision,
      r.values.profile,
      (r.values.global as any).remotePilotAddress,
      (r.values.istiodRemote as any).injectionPath,
    ]),
    [
      ['1-29-2', 'remote', '192.0.2.2', '/inject/cluster/r2/net/net1'],
      ['1-30-3', 'remote', '192.0.2.2', '/inject/cluster/r2/net/net1'],
    ],
  );
});

test('enableNamespacesByDefault of the values adds the default tag`s auto. webhook, as the chart does', () => {
  const m = mesh('helm', HELM_CANARY);
  const cluster = m.clusters.find((c) => c.name === 'p1');
  assert.ok(cluster);
  const c = new ClusterChart(new App(), 'p1', {
    mesh: m,
    cluster,
    base: { profile: 'default', values: { sidecarInjectorWebhook: { enableNamespacesByDefault: true, reinvocationPolicy: 'IfNeeded' } } },
    secrets: { provider: 'sealed-secrets', cacerts: CACERTS, remoteSecrets: [] },
  });
  const def = byName(c.files().get(`post-install/${RevisionTags.FILE}`), 'istio-revision-tag-default');
  assert.equal(def.webhooks.at(-1).name, 'auto.sidecar-injector.istio.io');
  assert.ok(def.webhooks.every((w: any) => w.reinvocationPolicy === 'IfNeeded'));
});

test('operator: one IstioOperator per revision (istioctl install --revision), named after it', () => {
  const files = chart(mesh('operator', HELM_CANARY), 'p1').files();
  const iops: any[] | undefined = files.get('control-plane/control-plane.yaml');
  assert.deepEqual(
    iops?.map((o) => [o.metadata.name, o.spec.revision]),
    [
      ['control-plane-1-29-2', '1-29-2'],
      ['control-plane-1-30-3', '1-30-3'],
    ],
  );
  assert.equal(files.get(`post-install/${RevisionTags.FILE}`)?.length, 2);
});

test('sail: one Istio, RevisionBased, at the newest version; IstioRevisionTags pinned on primaries, webhooks on remotes', () => {
  const m = mesh(
    'sail',
    `  revisions:
    default-v1-29-2: {version: 1.29.2}
    default-v1-30-3: {version: 1.30.3}
  tags: {default: default-v1-29-2}`,
  );
  const p1 = chart(m, 'p1').files();
  const [istio]: any[] = p1.get('control-plane/control-plane.yaml') ?? [];
  assert.equal(istio.metadata.name, 'default');
  assert.equal(istio.spec.version, 'v1.30.3');
  assert.deepEqual(istio.spec.updateStrategy, { type: 'RevisionBased' });
  assert.equal(istio.spec.values.revision, undefined, 'Sail derives the revision from the name and version');
  assertValid([istio]);
  const [tag]: any[] = p1.get(`post-install/${RevisionTags.FILE}`) ?? [];
  assert.deepEqual(
    [tag.kind, tag.metadata.name, tag.spec],
    ['IstioRevisionTag', 'default', { targetRef: { kind: 'IstioRevision', name: 'default-v1-29-2' } }],
  );
  assertValid([tag]);
  // Sail refuses an IstioRevisionTag on a remote-profile revision: the remote gets the webhook itself.
  const [wh]: any[] = chart(m, 'r1').files().get(`post-install/${RevisionTags.FILE}`) ?? [];
  assert.equal(wh.kind, 'MutatingWebhookConfiguration');
  assert.equal(wh.webhooks[0].clientConfig.service.name, 'istiod-default-v1-29-2');
  // The shorthand stays InPlace, named after the revision.
  const short = chart(mesh('sail', '  version: 1.30.3\n  revision: r1-30'), 'p1').files();
  const [inPlace]: any[] = short.get('control-plane/control-plane.yaml') ?? [];
  assert.deepEqual([inPlace.metadata.name, inPlace.spec.updateStrategy], ['r1-30', undefined]);
});
