import { ApiObject, type App, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { CaCerts } from '../charts/ca-certs';
import { type ClusterChart, Stage } from '../charts/cluster-chart';
import { IstioControlPlaneReleases, IstioGatewayRelease } from '../installers/helm-releases';
import { renderKustomization, renderManifests } from '../output/render';
import { TOPOLOGY_FILE } from '../topology/load';
import { type Cluster, gatewayRevisionOf, type Mesh, newestVersion, READER_SERVICE_ACCOUNT } from '../topology/model';
import { FluxKustomizations, type FluxStage } from './flux-kustomizations';
import { MeshApplicationSet } from './mesh-application-set';

/**
 * The warning of a synth without `gitops.repoURL`. synth never reads Git (CI and a laptop must agree), so the URL is
 * never guessed here; `meshgen prep` fills it from `git remote get-url origin` when it writes topology.yaml.
 */
export const NO_REPO_URL_WARNING =
  `no gitops.repoURL in ${TOPOLOGY_FILE}: no Argo CD ApplicationSet is written (dist/argocd/); ` +
  'set gitops.repoURL to the URL Argo CD clones this repository from (e.g. the output of `git remote get-url origin`). Flux needs none.';

/** The Helm values and translation problems of a cluster (helm and sail installers). */
export type ClusterHelm = NonNullable<ClusterChart['helm']>;

/**
 * The Argo CD and Flux entry points, by file: the ApplicationSet with one Application per cluster (`dist/argocd/`, with a
 * kustomization.yaml), and each cluster's Flux Kustomizations with, for helm and sail, its HelmRepository and
 * HelmReleases (`dist/flux/<cluster>/`).
 *
 * Flux, per cluster (each Kustomization `dependsOn` the one named, and is Ready once what it applied is healthy):
 * - `istio-secrets`: Namespace, cacerts, remote secrets; Ready once the `cacerts` Secret exists.
 * - `istio-control-plane` → secrets: Istio's base and istiod HelmReleases (helm), the Sail `Istio` (sail) or the
 *   IstioOperator (operator). On a remote nothing here needs injection (no istiod pods).
 * - `istio-reader-token` → control plane: the reader token Secret, whose ServiceAccount the base chart created.
 * - `istio-post-install` → control plane: Istio config (cross-network gateway, istiod exposure; operator: the east-west
 *   gateway IstioOperator).
 * - `istio-gateway` → control plane (helm, sail): the east-west gateway HelmRelease. On a remote its pods wait for the
 *   primary's istiod, which needs this cluster's reader token: nothing depends on it, so nothing deadlocks.
 * - `istio-remote-secrets` → secrets (external-secrets): the remote secrets, each Ready once its peer pushed its token;
 *   nothing depends on them (two primaries would otherwise wait for each other).
 *
 * @see https://fluxcd.io/flux/components/kustomize/kustomizations/#dependencies
 */
export function gitopsFiles(
  app: App,
  mesh: Mesh,
  clusters: readonly Cluster[],
  stagesOf: ReadonlyMap<string, readonly Stage[]>,
  helm: ReadonlyMap<string, ClusterHelm>,
  warnings: string[],
  tornDown = false,
): Map<string, string> {
  const out = new Map<string, string>();
  const { gitops, istio } = mesh;
  const render = (chart: Chart) => renderManifests(apiObjectsOf(chart));
  // Without a repository URL there can be no ApplicationSet (Flux needs none: it names its GitRepository).
  if (gitops.repoURL !== undefined) {
    const repoURL = gitops.repoURL;
    let targets = clusters;
    if (gitops.generator === 'list') {
      const noServer = clusters.filter((c) => c.server === undefined);
      if (noServer.length > 0) {
        warnings.push(
          `the Argo CD ApplicationSet leaves out ${noServer.map((c) => c.name).join(', ')}: no server in ${TOPOLOGY_FILE}; run \`meshgen discover\` or set it`,
        );
      }
      targets = clusters.filter((c) => c.server !== undefined);
    }
    const chart = new Chart(app, 'argocd', { disableResourceNameHashes: true });
    new MeshApplicationSet(chart, 'ApplicationSet', {
      meshId: mesh.meshId,
      clusters: targets,
      gitops: { ...gitops, repoURL },
      // A torn-down mesh: no chart sources, so Argo CD prunes what the charts installed.
      charts:
        istio.installer === 'operator' || tornDown
          ? undefined
          : {
              controlPlane: istio.installer === 'helm',
              ambient: istio.installer === 'helm' && istio.dataplane === 'ambient',
              eastWestGateway: new Set(clusters.filter((c) => helm.get(c.name)?.gateway !== undefined).map((c) => c.name)),
              revisions: istio.revisions,
              baseVersion: newestVersion(mesh),
              gateway: gatewayRevisionOf(mesh),
            },
    });
    out.set(`argocd/${MeshApplicationSet.FILE}`, render(chart));
    out.set('argocd/kustomization.yaml', renderKustomization([MeshApplicationSet.FILE]));
  } else {
    warnings.push(NO_REPO_URL_WARNING);
  }
  for (const c of clusters) {
    const values = helm.get(c.name);
    const cluster = `${gitops.path}/clusters/${c.name}`;
    const fluxDir = `${gitops.path}/flux/${c.name}`;
    const revisions = istio.revisions.map((r) => r.name);
    const controlPlane: FluxStage = {
      name: 'istio-control-plane',
      path: `${cluster}/${Stage.CONTROL_PLANE}`,
      dependsOn: 'istio-secrets',
      // An IstioOperator has no status conditions: wait for what its controller installs instead.
      healthChecks: istio.installer === 'operator' ? operatorHealthChecks(c, revisions) : undefined,
    };
    const stages: FluxStage[] = [
      { name: 'istio-secrets', path: `${cluster}/${Stage.SECRETS}`, healthChecks: [{ apiVersion: 'v1', kind: 'Secret', name: CaCerts.NAME }] },
      controlPlane,
    ];
    if (values?.base && values.istiods) {
      // Flux-only objects stay out of the cluster directory, which Argo CD applies as a whole.
      const releases = new Chart(app, `flux-control-plane.${c.name}`, { disableResourceNameHashes: true });
      new IstioControlPlaneReleases(releases, 'Releases', {
        base: values.base,
        istiods: values.istiods,
        baseVersion: values.baseVersion,
        cni: values.cni,
        ztunnel: values.ztunnel,
        version: istio.revisions[0].version,
      });
      // A torn-down mesh keeps the directory, empty: Flux prunes (uninstalls) the releases.
      if (!tornDown) out.set(`flux/${c.name}/${Stage.CONTROL_PLANE}/releases.yaml`, render(releases));
      out.set(`flux/${c.name}/${Stage.CONTROL_PLANE}/kustomization.yaml`, renderKustomization(tornDown ? [] : ['releases.yaml']));
      stages[1] = { ...controlPlane, path: `${fluxDir}/${Stage.CONTROL_PLANE}` };
    }
    // A stage directory exists only when something is in it (a remote has no post-install config, say).
    const has = (stage: Stage) => stagesOf.get(c.name)?.includes(stage) ?? false;
    if (has(Stage.READER_TOKEN))
      stages.push({ name: 'istio-reader-token', path: `${cluster}/${Stage.READER_TOKEN}`, dependsOn: 'istio-control-plane' });
    if (has(Stage.POST_INSTALL))
      stages.push({ name: 'istio-post-install', path: `${cluster}/${Stage.POST_INSTALL}`, dependsOn: 'istio-control-plane' });
    if (has(Stage.REMOTE_SECRETS)) {
      // Each ExternalSecret is Ready once its peer pushed its token: nothing depends on this stage.
      stages.push({ name: 'istio-remote-secrets', path: `${cluster}/${Stage.REMOTE_SECRETS}`, dependsOn: 'istio-secrets' });
    }
    if (values?.gateway) {
      const releases = new Chart(app, `flux-gateway.${c.name}`, { disableResourceNameHashes: true });
      new IstioGatewayRelease(releases, 'Release', {
        gateway: values.gateway,
        version: values.gatewayVersion,
        revision: gatewayRevisionOf(mesh).label,
        istiodRevision: values.gatewayRevision,
        withoutIstiodRelease: values.istiods === undefined,
      });
      if (!tornDown) out.set(`flux/${c.name}/gateway/releases.yaml`, render(releases));
      out.set(`flux/${c.name}/gateway/kustomization.yaml`, renderKustomization(tornDown ? [] : ['releases.yaml']));
      stages.push({ name: 'istio-gateway', path: `${fluxDir}/gateway`, dependsOn: 'istio-control-plane' });
    }
    const chart = new Chart(app, `flux.${c.name}`, { disableResourceNameHashes: true });
    new FluxKustomizations(chart, 'Kustomizations', { stages, gitops });
    out.set(`flux/${c.name}/${FluxKustomizations.FILE}`, render(chart));
    out.set(`flux/${c.name}/kustomization.yaml`, renderKustomization([FluxKustomizations.FILE]));
  }
  return out;
}

/**
 * What the control plane stage of an IstioOperator waits for: the reader ServiceAccount (the reader token needs it) and,
 * on a primary, istiod.
 */
function operatorHealthChecks(c: Cluster, revisions: readonly (string | undefined)[]): FluxStage['healthChecks'] {
  const checks = [{ apiVersion: 'v1', kind: 'ServiceAccount', name: READER_SERVICE_ACCOUNT }];
  if (c.role === 'primary') {
    for (const r of revisions) checks.push({ apiVersion: 'apps/v1', kind: 'Deployment', name: r ? `istiod-${r}` : 'istiod' });
  }
  return checks;
}

/** One warning per untranslatable IstioOperator field, naming the clusters it concerns. */
export function translationWarnings(helm: ReadonlyMap<string, ClusterHelm>): string[] {
  const byProblem = new Map<string, string[]>();
  for (const [cluster, h] of helm) {
    for (const p of h.problems) {
      const key = `${p.path}: ${p.message}; fix: ${p.fix}`;
      byProblem.set(key, [...(byProblem.get(key) ?? []), cluster]);
    }
  }
  return [...byProblem].map(([k, cs]) => `base.yaml ${k} (clusters: ${cs.join(', ')})`);
}

function apiObjectsOf(scope: Construct): unknown[] {
  return scope.node
    .findAll()
    .filter((c): c is ApiObject => ApiObject.isApiObject(c))
    .map((o) => o.toJson());
}
