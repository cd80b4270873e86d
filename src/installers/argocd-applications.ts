import * as path from 'node:path';
import { Construct } from 'constructs';
import { Application } from '../../imports/argoproj.io';
import { SYNC_WAVE_ANNOTATION, SyncWave } from '../charts/sync-waves';
import { ISTIO_WEBHOOK_DIFFERENCES, MESH_LABEL, objectName } from '../gitops/mesh-application-set';
import { HEADER, toYaml } from '../output/render';
import { type GitOps, ISTIO_NAMESPACE } from '../topology/model';
import { ISTIO_CHARTS, ISTIO_HELM_REPOSITORY_URL, type IstioChart, istioChartVersion, istioReleaseName } from './helm-releases';
import { type HelmValues, sortKeys } from './translate';

/**
 * Sync waves of the Istio Applications: after the `cacerts` and remote secrets (wave {@link SyncWave.SECRETS} in the
 * cluster's directory), base before istiod before the gateway.
 */
export const ISTIO_APPLICATION_WAVES: Readonly<Record<IstioChart, number>> = {
  base: SyncWave.SECRETS + 1,
  istiod: SyncWave.SECRETS + 2,
  gateway: SyncWave.SECRETS + 3,
};

/** Props of a cluster's Istio Applications. */
export interface IstioArgoApplicationsProps {
  /** The mesh ID; prefixes the Application names (as a DNS label, like the mesh ApplicationSet) and labels them (`meshgen.io/mesh`). */
  readonly meshId: string;
  /** The cluster name: its directory under `dist/clusters/` and part of the Application names. */
  readonly cluster: string;
  /** The cluster's API server (`destination.server`), as registered in Argo CD. */
  readonly server: string;
  /** Repository, revision and dist path of the values files; project and namespace of the Applications. */
  readonly gitops: GitOps & { readonly repoURL: string };
  /**
   * The charts to install. Sail installs the control plane itself, so a `sail` cluster only needs `['gateway']`.
   * @default ['base', 'istiod', 'gateway']
   */
  readonly charts?: readonly IstioChart[];
  /**
   * The chart version (`istio.version` of topology.yaml; a leading `v` is dropped).
   * @default '*' - the latest chart in the repository
   */
  readonly version?: string;
  /**
   * The control plane revision; names the istiod release `istiod-<revision>`.
   * @default - none
   */
  readonly revision?: string;
}

/**
 * The Argo CD Applications that install Istio's Helm charts on one cluster, one per chart (`<mesh>-<cluster>-istio-base`,
 * `-istiod`, `-istio-eastwestgateway`), in Argo CD's namespace.
 *
 * Each is a multi-source Application: the chart from Istio's Helm repository, with its values file taken from this
 * repository through a second source `ref: values` (`$values/<dist>/clusters/<cluster>/helm/<chart>-values.yaml`; write
 * those files with {@link helmValuesFiles}). Sync waves order base < istiod < gateway, after the secrets; Argo CD honours
 * waves between Applications when a parent Application (app of apps) syncs them and Application health is assessed (the
 * `argoproj.io/Application` health check in argocd-cm, off by default since Argo CD 1.8). Automated sync prunes and
 * self-heals, and the resources finalizer uninstalls the chart when the Application is deleted. Istio mutates its webhook
 * configurations after install: those fields are ignored in diffs, as in the mesh ApplicationSet.
 *
 * @see https://argo-cd.readthedocs.io/en/stable/user-guide/multiple_sources/#helm-value-files-from-external-git-repository
 * @see https://argo-cd.readthedocs.io/en/stable/operator-manual/upgrading/1.7-1.8/#health-assessment-of-argoprojioapplication-crd-has-been-removed
 * @see https://istio.io/latest/docs/setup/install/helm/
 */
export class IstioArgoApplications extends Construct {
  /** The values file of a chart, relative to the cluster's directory. It is not a manifest: keep it out of kustomization.yaml. */
  public static valuesFile(chart: IstioChart): string {
    return `helm/${chart}-values.yaml`;
  }

  /** The Applications by chart. */
  public readonly applications: ReadonlyMap<IstioChart, Application>;

  constructor(scope: Construct, id: string, props: IstioArgoApplicationsProps) {
    super(scope, id);
    const { gitops, meshId, cluster } = props;
    const charts = ISTIO_CHARTS.filter((c) => (props.charts ?? ISTIO_CHARTS).includes(c));
    const apps = new Map<IstioChart, Application>();
    for (const chart of charts) {
      const releaseName = istioReleaseName(chart, props.revision);
      const valueFile = path.posix.join('$values', gitops.path, 'clusters', cluster, IstioArgoApplications.valuesFile(chart));
      const webhooks = chart !== 'gateway';
      apps.set(
        chart,
        new Application(this, chart, {
          metadata: {
            name: `${objectName(meshId)}-${cluster}-${releaseName}`,
            namespace: gitops.namespace,
            labels: { [MESH_LABEL]: meshId },
            annotations: { [SYNC_WAVE_ANNOTATION]: String(ISTIO_APPLICATION_WAVES[chart]) },
            finalizers: ['resources-finalizer.argocd.argoproj.io'],
          },
          spec: {
            project: gitops.project,
            sources: [
              {
                repoUrl: ISTIO_HELM_REPOSITORY_URL,
                chart,
                targetRevision: istioChartVersion(props.version) ?? '*',
                helm: { releaseName, valueFiles: [valueFile] },
              },
              { repoUrl: gitops.repoURL, targetRevision: gitops.targetRevision, ref: 'values' },
            ],
            destination: { server: props.server, namespace: ISTIO_NAMESPACE },
            syncPolicy: {
              automated: { prune: true, selfHeal: true },
              syncOptions: ['CreateNamespace=true', 'ServerSideApply=true', 'RespectIgnoreDifferences=true'],
            },
            ignoreDifferences: webhooks ? ISTIO_WEBHOOK_DIFFERENCES.map((d) => ({ ...d, jqPathExpressions: [...d.jqPathExpressions] })) : undefined,
          },
        }),
      );
    }
    this.applications = apps;
  }
}

/**
 * The Helm values files the Applications read, by path relative to the cluster's directory
 * (`helm/<chart>-values.yaml`), each with the generated-by header and keys sorted. These are plain values files, not
 * Kubernetes manifests: they must not be listed in any kustomization.yaml.
 */
export function helmValuesFiles(values: Partial<Record<IstioChart, HelmValues>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const chart of ISTIO_CHARTS) {
    const v = values[chart];
    if (v !== undefined) out.set(IstioArgoApplications.valuesFile(chart), HEADER + toYaml(sortKeys(v)));
  }
  return out;
}
