import { ApiObject, type App, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { type ClusterChart, Stage } from '../charts/cluster-chart';
import { IstioArgoApplications } from '../installers/argocd-applications';
import { ISTIO_CHARTS, type IstioChart, IstioHelmReleases } from '../installers/helm-releases';
import { renderKustomization, renderManifests } from '../output/render';
import { TOPOLOGY_FILE } from '../topology/load';
import type { Cluster, Mesh } from '../topology/model';
import { FluxKustomizations, type FluxStage } from './flux-kustomizations';
import { MeshApplicationSet } from './mesh-application-set';

/** The Helm values and translation problems of a cluster (helm and sail installers). */
export type ClusterHelm = NonNullable<ClusterChart['helm']>;

/**
 * The Argo CD and Flux entry points, by file: the ApplicationSet of the cluster directories and, with the helm and
 * sail installers, each cluster's Applications of Istio's charts (`dist/argocd/`, with a kustomization.yaml so one
 * "app of apps" can apply the whole directory); each cluster's Flux Kustomizations and, with helm and sail, its
 * HelmRepository and HelmReleases (`dist/flux/<cluster>/`).
 */
export function gitopsFiles(
  app: App,
  mesh: Mesh,
  clusters: readonly Cluster[],
  helm: ReadonlyMap<string, ClusterHelm>,
  warnings: string[],
): Map<string, string> {
  const out = new Map<string, string>();
  const { gitops, istio } = mesh;
  const render = (chart: Chart) => renderManifests(apiObjectsOf(chart));
  const chartsOf = (c: Cluster): IstioChart[] => {
    const h = helm.get(c.name);
    return h ? ISTIO_CHARTS.filter((chart) => h[chart] !== undefined) : [];
  };
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
    const files: string[] = [MeshApplicationSet.FILE];
    const chart = new Chart(app, 'argocd', { disableResourceNameHashes: true });
    new MeshApplicationSet(chart, 'ApplicationSet', {
      meshId: mesh.meshId,
      clusters: targets,
      gitops: { ...gitops, repoURL },
      // Istio's CRDs come with the base chart (or Sail): the cluster Applications may sync before they exist.
      skipDryRunOnMissingResource: istio.installer !== 'operator',
    });
    out.set(`argocd/${MeshApplicationSet.FILE}`, render(chart));
    for (const c of targets.filter((t) => chartsOf(t).length > 0 && t.server !== undefined)) {
      // "." cannot occur in a cluster name: "flux-helm-a" of cluster "a" must not collide with "flux-" of "helm-a".
      const apps = new Chart(app, `argocd-charts.${c.name}`, { disableResourceNameHashes: true });
      new IstioArgoApplications(apps, 'Applications', {
        meshId: mesh.meshId,
        cluster: c.name,
        server: c.server as string,
        gitops: { ...gitops, repoURL },
        charts: chartsOf(c),
        version: istio.version,
        revision: istio.revision,
      });
      const file = `charts/${c.name}.yaml`;
      out.set(`argocd/${file}`, render(apps));
      files.push(file);
    }
    out.set('argocd/kustomization.yaml', renderKustomization(files));
  }
  for (const c of clusters) {
    const values = helm.get(c.name);
    const cluster = `${gitops.path}/clusters/${c.name}`;
    const fluxDir = `${gitops.path}/flux/${c.name}`;
    const stages: FluxStage[] = [{ name: 'istio-secrets', path: `${cluster}/${Stage.SECRETS}`, waitForCacerts: true }];
    if (istio.installer !== 'helm') stages.push({ name: 'istio-control-plane', path: `${cluster}/${Stage.CONTROL_PLANE}` });
    if (values && (values.istiod || values.gateway)) {
      // Flux-only objects stay out of the cluster directory, which Argo CD applies as a whole.
      const releases = new Chart(app, `flux-helm.${c.name}`, { disableResourceNameHashes: true });
      new IstioHelmReleases(releases, 'Releases', {
        base: values.base,
        istiod: values.istiod,
        gateway: values.gateway,
        version: istio.version,
        revision: istio.revision,
      });
      out.set(`flux/${c.name}/helm/releases.yaml`, render(releases));
      out.set(`flux/${c.name}/helm/kustomization.yaml`, renderKustomization(['releases.yaml']));
      stages.push({ name: istio.installer === 'helm' ? 'istio-control-plane' : 'istio-gateway', path: `${fluxDir}/helm` });
    }
    stages.push({ name: 'istio-post-install', path: `${cluster}/${Stage.POST_INSTALL}` });
    const chart = new Chart(app, `flux.${c.name}`, { disableResourceNameHashes: true });
    new FluxKustomizations(chart, 'Kustomizations', { stages, gitops });
    out.set(`flux/${c.name}/${FluxKustomizations.FILE}`, render(chart));
    out.set(`flux/${c.name}/kustomization.yaml`, renderKustomization([FluxKustomizations.FILE]));
  }
  return out;
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
