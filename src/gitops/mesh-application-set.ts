import { Construct } from 'constructs';
import { ApplicationSet } from '../../imports/argoproj.io';
import type { Cluster, GitOps } from '../topology/model';

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

/** Props of the mesh's ApplicationSet. */
export interface MeshApplicationSetProps {
  /** The mesh ID; names the ApplicationSet and labels its Applications. */
  readonly meshId: string;
  /** The clusters (list generator: one element each). */
  readonly clusters: readonly Cluster[];
  /** Repository, revision, dist path, project, Argo CD namespace and generator. */
  readonly gitops: GitOps & { readonly repoURL: string };
  /**
   * Add `SkipDryRunOnMissingResource=true`: Istio's CRDs are installed by another Application (the base chart, or
   * the Sail Operator), so the cluster Application may sync before they exist.
   * @default false
   */
  readonly skipDryRunOnMissingResource?: boolean;
}

/**
 * One Argo CD Application per cluster, each syncing `dist/clusters/<cluster>` (a Kustomize directory; its
 * objects carry sync waves so `cacerts` is decrypted before the control plane starts).
 *
 * - Generator `list` (default): one element per cluster of topology.yaml, `destination.server` = its `server`.
 * - Generator `clusters`: every Argo CD cluster labelled `meshgen.io/mesh: <mesh_id>`; the Argo CD cluster
 *   name must be the meshgen cluster name (`argocd cluster add <context> --name <cluster> --label ...`).
 *
 * Automated sync prunes and self-heals; `allowEmpty` lets `meshgen teardown` prune everything. Istio mutates
 * its webhook configurations (failurePolicy, caBundle) after install: those fields are ignored in diffs and,
 * with `RespectIgnoreDifferences`, not written back.
 *
 * @see https://argo-cd.readthedocs.io/en/stable/operator-manual/applicationset/
 * @see https://github.com/istio/istio/issues/44285
 */
export class MeshApplicationSet extends Construct {
  public static readonly FILE = 'applicationset.yaml';

  constructor(scope: Construct, id: string, props: MeshApplicationSetProps) {
    super(scope, id);
    const { gitops, meshId } = props;
    const list = gitops.generator === 'list';
    const slug = objectName(meshId);
    new ApplicationSet(this, 'Resource', {
      metadata: { name: `istio-${slug}`, namespace: gitops.namespace, labels: { [MESH_LABEL]: meshId } },
      spec: {
        goTemplate: true,
        goTemplateOptions: ['missingkey=error'],
        generators: [
          list
            ? { list: { elements: props.clusters.map((c) => ({ cluster: c.name, server: c.server })) } }
            : { clusters: { selector: { matchLabels: { [MESH_LABEL]: meshId } } } },
        ],
        template: {
          metadata: {
            name: list ? `${slug}-{{.cluster}}` : `${slug}-{{.name}}`,
            labels: { [MESH_LABEL]: meshId },
          },
          spec: {
            project: gitops.project,
            source: {
              repoUrl: gitops.repoURL,
              targetRevision: gitops.targetRevision,
              path: list ? `${gitops.path}/clusters/{{.cluster}}` : `${gitops.path}/clusters/{{.name}}`,
            },
            destination: { server: '{{.server}}', namespace: 'istio-system' },
            syncPolicy: {
              automated: { prune: true, selfHeal: true, allowEmpty: true },
              syncOptions: [
                'CreateNamespace=true',
                'ServerSideApply=true',
                'RespectIgnoreDifferences=true',
                ...(props.skipDryRunOnMissingResource ? ['SkipDryRunOnMissingResource=true'] : []),
              ],
            },
            ignoreDifferences: ISTIO_WEBHOOK_DIFFERENCES.map((d) => ({ ...d, jqPathExpressions: [...d.jqPathExpressions] })),
          },
        },
      },
    });
  }
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
