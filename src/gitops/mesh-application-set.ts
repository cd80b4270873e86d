import { Construct } from 'constructs';
import { ApplicationSet, type ApplicationSetSpecGenerators } from '../../imports/argoproj.io';
import { valuesFile } from '../installers/argocd-applications';
import { ISTIO_HELM_REPOSITORY_URL, type IstioChart, istioChartVersion, istioReleaseName } from '../installers/helm-releases';
import { toYaml } from '../output/render';
import type { Cluster, GitOps, IstioRevision } from '../topology/model';

/** Label on the Applications (and, with the clusters generator, on Argo CD's cluster Secrets) naming the mesh. */
export const MESH_LABEL = 'meshgen.io/mesh';

/**
 * The webhook fields istiod mutates itself after install (the validating webhook's `failurePolicy` goes from Ignore
 * to Fail once istiod is ready; `caBundle` of both is injected): ignored in diffs, and with
 * `RespectIgnoreDifferences=true` not written back by a sync.
 *
 * @see https://github.com/istio/istio/issues/44285
 */
export const ISTIO_WEBHOOK_DIFFERENCES = [
  {
    group: 'admissionregistration.k8s.io',
    kind: 'ValidatingWebhookConfiguration',
    jqPathExpressions: ['.webhooks[]?.failurePolicy', '.webhooks[]?.clientConfig.caBundle'],
  },
  {
    group: 'admissionregistration.k8s.io',
    kind: 'MutatingWebhookConfiguration',
    jqPathExpressions: ['.webhooks[]?.clientConfig.caBundle'],
  },
] as const;

/** Istio's charts installed by each cluster's Application beside its directory (helm and sail installers). */
export interface ApplicationSetCharts {
  /** Install `istio/base` and `istio/istiod` (helm installer; Sail installs the control plane itself). */
  readonly controlPlane: boolean;
  /**
   * Install `istio/cni` and `istio/ztunnel` too (helm installer, ambient data plane).
   * @default false
   */
  readonly ambient?: boolean;
  /** The clusters that get the east-west gateway (`istio/gateway`). */
  readonly eastWestGateway: ReadonlySet<string>;
  /**
   * The control plane revisions: one istiod source each (release `istiod-<revision>`, values
   * `helm/istiod-<revision>-values.yaml`, chart version the revision's; a leading `v` is dropped, none pinned means '*').
   * The first revision's version is that of the cni and ztunnel charts.
   */
  readonly revisions: readonly IstioRevision[];
  /**
   * The base chart's version (the newest revision's: its CRDs serve every revision).
   * @default - the first revision's
   */
  readonly baseVersion?: string;
  /**
   * The gateway chart's `revision` label (a tag or revision) and the revision it resolves to, whose version it takes.
   * @default - the first revision
   */
  readonly gateway?: { readonly label?: string; readonly revision: IstioRevision };
}

/** Props of the mesh's ApplicationSet. */
export interface MeshApplicationSetProps {
  /** The mesh ID; names the ApplicationSet and labels its Applications. */
  readonly meshId: string;
  /** The clusters (list generator: one element each). */
  readonly clusters: readonly Cluster[];
  /** Repository, revision, dist path, project, Argo CD namespace and generator. */
  readonly gitops: GitOps & { readonly repoURL: string };
  /**
   * Istio's charts, as further sources of each cluster's Application (helm and sail installers).
   * @default - the cluster directory is the only source (operator installer)
   */
  readonly charts?: ApplicationSetCharts;
}

/** The list-generator parameter that says whether a cluster gets the east-west gateway chart (`"true"`/`"false"`). */
export const EAST_WEST_GATEWAY_PARAM = 'eastWestGateway';

/**
 * Retry of a failed sync (a CRD not established yet, a webhook not serving yet): with backoff, without limit, as a
 * controller would (a negative limit retries forever: argo-cd `controller/appcontroller.go`,
 * `state.Operation.Retry.Limit < 0`).
 */
export const SYNC_RETRY = { limit: -1, backoff: { duration: '10s', factor: 2, maxDuration: '5m' } } as const;

/**
 * One Argo CD Application per cluster, the cluster's single ordered unit: everything applied to a cluster is in its
 * Application, so Argo CD's sync waves order all of it (waves order resources inside one Application only).
 *
 * - operator installer: the only source is `dist/clusters/<cluster>` (a Kustomize directory).
 * - helm and sail installers: a multi-source Application (`templatePatch` sets `spec.sources` per cluster): the cluster
 *   directory (Namespace at wave -2, `cacerts` and remote secrets at -1, the reader token and Istio config at 1, ...),
 *   Istio's `base` and `istiod` charts (helm; wave 0, no annotation), the `gateway` chart where the cluster has an
 *   east-west gateway (its `annotations` value puts it at wave 3), and the repository as `ref: values` for the values
 *   files under `dist/clusters/<cluster>/helm/`.
 *
 * Generators:
 * - `list` (default): one element per cluster of topology.yaml, `destination.server` = its `server`.
 * - `clusters`: every Argo CD cluster labelled `meshgen.io/mesh: <mesh_id>`; the Argo CD cluster name must be the
 *   meshgen cluster name (`argocd cluster add <context> --name <cluster> --label ...`). With charts, a `merge` generator
 *   adds each cluster's `eastWestGateway` parameter by name.
 *
 * Automated sync prunes and self-heals and retries with backoff; `allowEmpty` lets `meshgen teardown` prune
 * everything. Istio mutates its webhook configurations (failurePolicy, caBundle) after install: those fields are
 * ignored in diffs and, with `RespectIgnoreDifferences`, not written back.
 *
 * @see https://argo-cd.readthedocs.io/en/stable/operator-manual/applicationset/
 * @see https://argo-cd.readthedocs.io/en/stable/operator-manual/applicationset/Template/#template-patch
 * @see https://argo-cd.readthedocs.io/en/stable/user-guide/multiple_sources/
 * @see https://github.com/istio/istio/issues/44285
 */
export class MeshApplicationSet extends Construct {
  public static readonly FILE = 'applicationset.yaml';

  constructor(scope: Construct, id: string, props: MeshApplicationSetProps) {
    super(scope, id);
    const { gitops, meshId, charts } = props;
    const list = gitops.generator === 'list';
    const slug = objectName(meshId);
    // The cluster's name parameter: `cluster` from the list generator, `name` from the clusters generator.
    const param = list ? 'cluster' : 'name';
    const clusterDir = `${gitops.path}/clusters/{{.${param}}}`;
    const gw = (c: Cluster) => (charts?.eastWestGateway.has(c.name) ? 'true' : 'false');
    const selector = { clusters: { selector: { matchLabels: { [MESH_LABEL]: meshId } } } };
    const generator = list
      ? {
          list: {
            elements: props.clusters.map((c) => ({ cluster: c.name, server: c.server, ...(charts ? { [EAST_WEST_GATEWAY_PARAM]: gw(c) } : {}) })),
          },
        }
      : charts
        ? {
            merge: {
              mergeKeys: ['name'],
              generators: [selector, { list: { elements: props.clusters.map((c) => ({ name: c.name, [EAST_WEST_GATEWAY_PARAM]: gw(c) })) } }],
            },
          }
        : selector;
    new ApplicationSet(this, 'Resource', {
      metadata: { name: `istio-${slug}`, namespace: gitops.namespace, labels: { [MESH_LABEL]: meshId } },
      spec: {
        goTemplate: true,
        goTemplateOptions: ['missingkey=error'],
        generators: [generator as ApplicationSetSpecGenerators],
        template: {
          metadata: {
            name: `${slug}-{{.${param}}}`,
            labels: { [MESH_LABEL]: meshId },
          },
          spec: {
            project: gitops.project,
            source: charts ? undefined : { repoUrl: gitops.repoURL, targetRevision: gitops.targetRevision, path: clusterDir },
            destination: { server: '{{.server}}', namespace: 'istio-system' },
            syncPolicy: {
              automated: { prune: true, selfHeal: true, allowEmpty: true },
              syncOptions: [
                'CreateNamespace=true',
                'ServerSideApply=true',
                'RespectIgnoreDifferences=true',
                // Istio's CRDs come with the base chart (or Sail) in the same sync: dry-run cannot find them yet.
                ...(charts ? ['SkipDryRunOnMissingResource=true'] : []),
              ],
              retry: { limit: SYNC_RETRY.limit, backoff: { ...SYNC_RETRY.backoff } },
            },
            ignoreDifferences: ISTIO_WEBHOOK_DIFFERENCES.map((d) => ({ ...d, jqPathExpressions: [...d.jqPathExpressions] })),
          },
        },
        templatePatch: charts ? sourcesPatch(gitops, clusterDir, param, charts) : undefined,
      },
    });
  }
}

/**
 * The `templatePatch` that sets a cluster's `spec.sources`: the cluster directory, the charts (the gateway chart only
 * where the element's `eastWestGateway` is "true"), and the repository as `ref: values`.
 */
function sourcesPatch(gitops: GitOps & { readonly repoURL: string }, clusterDir: string, param: string, charts: ApplicationSetCharts): string {
  const repo = { repoURL: gitops.repoURL, targetRevision: gitops.targetRevision };
  const first = charts.revisions[0];
  const chartSource = (chart: IstioChart, version: string | undefined, revision?: string) => ({
    repoURL: ISTIO_HELM_REPOSITORY_URL,
    chart,
    targetRevision: istioChartVersion(version) ?? '*',
    helm: {
      releaseName: istioReleaseName(chart, revision),
      valueFiles: [`$values/${gitops.path}/clusters/{{.${param}}}/${valuesFile(chart, revision)}`],
    },
  });
  const item = (source: object) => indent(toYaml([source]), '    ');
  const lines = [
    'spec:',
    '  sources:',
    item({ ...repo, path: clusterDir }),
    ...(charts.controlPlane
      ? [
          item(chartSource('base', charts.baseVersion ?? first?.version)),
          ...charts.revisions.map((r) => item(chartSource('istiod', r.version, r.name))),
        ]
      : []),
    ...(charts.ambient ? [item(chartSource('cni', first?.version)), item(chartSource('ztunnel', first?.version))] : []),
    `    {{- if eq .${EAST_WEST_GATEWAY_PARAM} "true" }}`,
    item(chartSource('gateway', (charts.gateway?.revision ?? first)?.version)),
    '    {{- end }}',
    item({ ...repo, ref: 'values' }),
  ];
  return `${lines.join('\n')}\n`;
}

function indent(text: string, prefix: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

/**
 * The mesh ID as part of an object name: mesh IDs may hold upper case, "_" and ".", object names may not
 * (DNS-1123), so those become lower case and "-".
 */
export function objectName(meshId: string): string {
  return meshId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
}
