/**
 * The helm and sail installers on a copy of the example mesh: Flux-only objects stay out of the cluster directories
 * (which Argo CD applies as a whole), the values of every rendering are those of the IstioOperator rendering, and
 * everything validates against the CRD schemas.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { renderApplicationSet } from '../convergence/model';
import { runCli } from '../helpers/cli';
import { assertNoSecrets } from '../helpers/no-secrets';
import { registry } from '../helpers/schemas';
import { hashTree, makeExampleWorkdir } from '../helpers/workdir';

const KUBECTL = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).error === undefined;
const docs = (file: string) => parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS());

async function withInstaller(installer: string): Promise<string> {
  const dir = makeExampleWorkdir({ withPrivateKeys: true });
  const file = path.join(dir, 'topology.yaml');
  fs.writeFileSync(
    file,
    fs.readFileSync(file, 'utf8').replace('istio:\n  version: 1.30.3\n', `istio:\n  installer: ${installer}\n  version: 1.30.3\n  revision: 1-30\n`),
  );
  const r = await runCli(['synth', '--workdir', dir]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

function allObjects(dir: string): { file: string; obj: any }[] {
  const out: { file: string; obj: any }[] = [];
  for (const [f] of hashTree(path.join(dir, 'dist'))) {
    if (f.endsWith('kustomization.yaml') || (f.includes('/helm/') && f.startsWith('clusters/')) || !f.endsWith('.yaml')) continue;
    for (const obj of docs(path.join(dir, 'dist', f))) out.push({ file: f, obj });
  }
  return out;
}

test('helm: charts as Flux HelmReleases outside the cluster directory and as Argo CD Applications; values files for Argo', async () => {
  const dir = await withInstaller('helm');
  const objs = allObjects(dir);
  const inClusters = objs.filter((o) => o.file.startsWith('clusters/') && !o.file.includes('/istioctl/'));
  assert.ok(!inClusters.some((o) => o.obj.apiVersion.includes('fluxcd.io')), 'no Flux object in a directory Argo CD applies');
  assert.ok(!inClusters.some((o) => o.obj.kind === 'IstioOperator'));
  // The merged IstioOperator stays as `istioctl install -f` input, applied by nobody.
  const [iop] = docs(path.join(dir, 'dist/clusters/cluster-east-1/istioctl/control-plane-1-30.yaml'));
  assert.equal(iop.kind, 'IstioOperator');
  assert.equal(iop.spec.revision, '1-30');
  assert.equal(iop.spec.meshConfig.trustDomain, 'cluster.local');
  assert.ok(!fs.readFileSync(path.join(dir, 'dist/clusters/cluster-east-1/kustomization.yaml'), 'utf8').includes('istioctl'));
  const releases = docs(path.join(dir, 'dist/flux/cluster-east-1/control-plane/releases.yaml'));
  assert.deepEqual(
    releases.map((r) => `${r.kind}/${r.metadata.name}`),
    ['HelmRepository/istio', 'HelmRelease/istio-base', 'HelmRelease/istiod-1-30'],
  );
  const [gw] = docs(path.join(dir, 'dist/flux/cluster-east-1/gateway/releases.yaml'));
  assert.equal(gw.metadata.name, 'istio-eastwestgateway');
  const [, , istiod] = releases;
  assert.equal(istiod.spec.chart.spec.version, '1.30.3');
  assert.deepEqual(istiod.spec.dependsOn, [{ name: 'istio-base' }]);
  assert.deepEqual(gw.spec.dependsOn, [{ name: 'istiod-1-30' }]);
  // The values Argo CD reads are the values Flux installs.
  const valuesFile = parse(fs.readFileSync(path.join(dir, 'dist/clusters/cluster-east-1/helm/istiod-1-30-values.yaml'), 'utf8'));
  assert.deepEqual(valuesFile, istiod.spec.values);
  assert.deepEqual(valuesFile.global.multiCluster, { clusterName: 'cluster-east-1' });
  assert.equal(valuesFile.global.meshID, 'mymeshname');
  assert.equal(valuesFile.global.network, 'network-east');
  assert.equal(valuesFile.revision, '1-30');
  assert.equal(valuesFile.meshConfig.trustDomain, 'cluster.local');
  assert.equal(gw.spec.values.networkGateway, 'network-east');

  const flux = docs(path.join(dir, 'dist/flux/cluster-east-1/kustomizations.yaml'));
  assert.deepEqual(
    flux.map((k) => [k.metadata.name, k.spec.path]),
    [
      ['istio-secrets', './dist/clusters/cluster-east-1/secrets'],
      ['istio-control-plane', './dist/flux/cluster-east-1/control-plane'],
      ['istio-reader-token', './dist/clusters/cluster-east-1/reader-token'],
      ['istio-post-install', './dist/clusters/cluster-east-1/post-install'],
      ['istio-gateway', './dist/flux/cluster-east-1/gateway'],
    ],
  );
  assert.deepEqual(
    flux.map((k) => k.spec.dependsOn?.map((d: any) => d.name)),
    [undefined, ['istio-secrets'], ['istio-control-plane'], ['istio-control-plane'], ['istio-control-plane']],
  );
  assert.deepEqual(parse(fs.readFileSync(path.join(dir, 'dist/flux/cluster-east-1/kustomization.yaml'), 'utf8')).resources, ['kustomizations.yaml']);

  assert.deepEqual(parse(fs.readFileSync(path.join(dir, 'dist/argocd/kustomization.yaml'), 'utf8')).resources, ['applicationset.yaml']);
  const [appset] = docs(path.join(dir, 'dist/argocd/applicationset.yaml'));
  assert.ok(appset.spec.template.spec.syncPolicy.syncOptions.includes('SkipDryRunOnMissingResource=true'));
  const app = renderApplicationSet(appset).find((a) => a.metadata.name === 'mymeshname-cluster-east-1') as any;
  assert.deepEqual(
    app.spec.sources.map((x: any) => x.path ?? (x.chart ? `${x.chart}:${x.helm.releaseName}` : `ref:${x.ref}`)),
    ['dist/clusters/cluster-east-1', 'base:istio-base', 'istiod:istiod-1-30', 'gateway:istio-eastwestgateway', 'ref:values'],
  );
  assert.deepEqual(app.spec.sources[2].helm.valueFiles, ['$values/dist/clusters/cluster-east-1/helm/istiod-1-30-values.yaml']);
  if (KUBECTL) {
    for (const c of ['cluster-east-1', 'cluster-west-1']) execFileSync('kubectl', ['kustomize', path.join(dir, 'dist/clusters', c)]);
    execFileSync('kubectl', ['kustomize', path.join(dir, 'dist/argocd')]);
    execFileSync('kubectl', ['kustomize', path.join(dir, 'dist/flux/cluster-east-1/control-plane')]);
    execFileSync('kubectl', ['kustomize', path.join(dir, 'dist/flux/cluster-east-1/gateway')]);
  }
  for (const { file, obj } of objs) assert.deepEqual(registry.validate(obj).errors, [], `${file} ${obj.kind}/${obj.metadata.name}`);
  assert.ok(assertNoSecrets(dir) > 20);
  fs.rmSync(dir, { recursive: true });
});

test('sail: the Sail Istio resource carries the same values as the helm rendering; the gateway is the gateway chart', async () => {
  const helmDir = await withInstaller('helm');
  const dir = await withInstaller('sail');
  const objs = allObjects(dir);
  const [istio] = docs(path.join(dir, 'dist/clusters/cluster-west-1/control-plane/control-plane.yaml'));
  assert.equal(istio.apiVersion, 'sailoperator.io/v1');
  assert.equal(istio.kind, 'Istio');
  assert.equal(istio.spec.version, 'v1.30.3');
  assert.equal(istio.spec.namespace, 'istio-system');
  const helmValues = parse(fs.readFileSync(path.join(helmDir, 'dist/clusters/cluster-west-1/helm/istiod-1-30-values.yaml'), 'utf8'));
  const { revision, profile: _profile, ...rest } = helmValues;
  assert.deepEqual(istio.spec.values, rest, 'Sail values = istiod chart values (revision and profile move to the resource)');
  assert.equal(istio.metadata.name, revision);
  const releases = docs(path.join(dir, 'dist/flux/cluster-west-1/gateway/releases.yaml'));
  assert.deepEqual(
    releases.map((r) => `${r.kind}/${r.metadata.name}`),
    ['HelmRepository/istio', 'HelmRelease/istio-eastwestgateway'],
  );
  assert.equal(releases[1].spec.dependsOn, undefined, 'no istiod HelmRelease to depend on: the Flux stages order it');
  const flux = docs(path.join(dir, 'dist/flux/cluster-west-1/kustomizations.yaml'));
  assert.deepEqual(
    flux.map((k) => k.metadata.name),
    ['istio-secrets', 'istio-control-plane', 'istio-reader-token', 'istio-post-install', 'istio-gateway'],
  );
  assert.equal(flux[1].spec.path, './dist/clusters/cluster-west-1/control-plane');
  const [appset] = docs(path.join(dir, 'dist/argocd/applicationset.yaml'));
  const app = renderApplicationSet(appset).find((a) => a.metadata.name === 'mymeshname-cluster-west-1') as any;
  assert.deepEqual(
    app.spec.sources.map((x: any) => x.path ?? x.chart ?? x.ref),
    ['dist/clusters/cluster-west-1', 'gateway', 'values'],
  );
  for (const { file, obj } of objs) assert.deepEqual(registry.validate(obj).errors, [], `${file} ${obj.kind}/${obj.metadata.name}`);
  assert.ok(assertNoSecrets(dir) > 20);
  fs.rmSync(dir, { recursive: true });
  fs.rmSync(helmDir, { recursive: true });
});

test('fails when sail has no Istio version', async () => {
  const dir = makeExampleWorkdir();
  const file = path.join(dir, 'topology.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('istio:\n  version: 1.30.3\n', 'istio:\n  installer: sail\n'));
  const r = await runCli(['synth', '--workdir', dir]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /istio\.installer: the Sail Operator needs the Istio version to install; fix: set istio\.version/);
  fs.rmSync(dir, { recursive: true });
});
