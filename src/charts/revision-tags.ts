import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { DEFAULT_TAG, ISTIO_NAMESPACE } from '../topology/model';
import { SyncWave, syncWave } from './sync-waves';

/** One revision tag of a cluster. */
export interface RevisionTagWebhook {
  /** The tag (`istio.io/rev` value of the namespaces and pods it injects). */
  readonly tag: string;
  /** The revision it points at: the webhook calls `istiod-<revision>`, and that istiod patches its `caBundle`. */
  readonly revision: string;
}

/** Props of a cluster's revision tags. */
export interface RevisionTagsProps {
  readonly tags: readonly RevisionTagWebhook[];
  /**
   * The injection path: `/inject` on a primary; on a remote `/inject/cluster/<cluster>/net/<network>` (its istiod chart's
   * `istiodRemote.injectionPath`), the call going to its primary's istiod through the `istiod-<revision>` Service the
   * remote's chart points at the primary's east-west gateway.
   * @default '/inject'
   */
  readonly injectionPath?: string;
  /**
   * `sidecarInjectorWebhook.reinvocationPolicy` of the revision's values.
   * @default 'Never'
   */
  readonly reinvocationPolicy?: string;
  /**
   * `sidecarInjectorWebhook.enableNamespacesByDefault`: the `default` tag also injects namespaces with no label at all.
   * @default false
   */
  readonly enableNamespacesByDefault?: boolean;
}

/**
 * The revision tags of one cluster as MutatingWebhookConfigurations of their own, `istio-revision-tag-<tag>`: exactly
 * what the istiod chart's `revisionTags` renders (`manifests/charts/istio-control/istio-discovery/templates/
 * revision-tags-mwc.yaml`, and `istioctl tag generate`, which renders the same template), but owned by the cluster
 * directory rather than by an istiod release.
 *
 * Why not the chart's `revisionTags`: the chart renders a tag's webhook in the release of the revision it points at, so
 * moving a tag to the canary deletes the webhook from one Helm release and creates it in another. Helm refuses to create
 * an object another release owns (`meta.helm.sh/release-name`), and under Argo CD two sources of one Application rendering
 * the same object would fight; in both cases namespaces on the tag have no injector for a while. Rendered here, moving a
 * tag is one in-place update of one object (the `istio.io/rev` label and the service), applied after the revision's
 * istiod is healthy (post-install stage, wave 1). Istio's own Argo CD sample does the same with a chart of its own
 * (`samples/ambient-argo/tag-chart`).
 *
 * The `caBundle` is left out: the istiod of the labelled revision patches it (`pkg/webhooks/webhookpatch.go` patches
 * every webhook configuration whose `istio.io/rev` is its revision, on remote clusters too:
 * `pilot/pkg/serviceregistry/kube/controller/multicluster.go`), and Argo CD ignores it in diffs. Both revisions sign with
 * the same `cacerts`, so the bundle left from the previous revision stays valid while a tag moves. istiod reads the
 * default revision from the webhook named `istio-revision-tag-default` (`pkg/revisions/default_watcher.go`).
 *
 * @see https://istio.io/latest/docs/setup/upgrade/canary/#stable-revision-labels
 * @see https://istio.io/latest/docs/setup/upgrade/helm/#canary-upgrade-recommended
 */
export class RevisionTags extends Construct {
  public static readonly FILE = 'revision-tags.yaml';

  /** The MutatingWebhookConfiguration of a tag. */
  public static webhookName(tag: string): string {
    return `istio-revision-tag-${tag}`;
  }

  constructor(scope: Construct, id: string, props: RevisionTagsProps) {
    super(scope, id);
    const path = props.injectionPath ?? '/inject';
    const reinvocationPolicy = props.reinvocationPolicy ?? 'Never';
    for (const { tag, revision } of props.tags) {
      const core = (prefix: string, namespaceSelector: object, objectSelector: object) => ({
        name: `${prefix}sidecar-injector.istio.io`,
        clientConfig: { service: { name: `istiod-${revision}`, namespace: ISTIO_NAMESPACE, path, port: 443 } },
        sideEffects: 'None',
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
        failurePolicy: 'Fail',
        reinvocationPolicy,
        admissionReviewVersions: ['v1'],
        namespaceSelector,
        objectSelector,
      });
      const exp = (key: string, operator: string, values?: string[]) => ({ key, operator, ...(values ? { values } : {}) });
      const notDisabled = { matchExpressions: [exp('sidecar.istio.io/inject', 'NotIn', ['false'])] };
      const webhooks = [
        core('rev.namespace.', { matchExpressions: [exp('istio.io/rev', 'In', [tag]), exp('istio-injection', 'DoesNotExist')] }, notDisabled),
        core(
          'rev.object.',
          { matchExpressions: [exp('istio.io/rev', 'DoesNotExist'), exp('istio-injection', 'DoesNotExist')] },
          { matchExpressions: [exp('sidecar.istio.io/inject', 'NotIn', ['false']), exp('istio.io/rev', 'In', [tag])] },
        ),
      ];
      // The default tag also serves what the unrevisioned control plane would: istio-injection=enabled namespaces and
      // pods labelled sidecar.istio.io/inject=true (kept in sync with the chart's mutatingwebhook.yaml).
      if (tag === DEFAULT_TAG) {
        webhooks.push(
          core('namespace.', { matchExpressions: [exp('istio-injection', 'In', ['enabled'])] }, notDisabled),
          core(
            'object.',
            { matchExpressions: [exp('istio-injection', 'DoesNotExist'), exp('istio.io/rev', 'DoesNotExist')] },
            { matchExpressions: [exp('sidecar.istio.io/inject', 'In', ['true']), exp('istio.io/rev', 'DoesNotExist')] },
          ),
        );
        if (props.enableNamespacesByDefault) {
          webhooks.push(
            core(
              'auto.',
              {
                matchExpressions: [
                  exp('istio-injection', 'DoesNotExist'),
                  exp('istio.io/rev', 'DoesNotExist'),
                  exp('kubernetes.io/metadata.name', 'NotIn', ['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage']),
                ],
              },
              { matchExpressions: [exp('sidecar.istio.io/inject', 'DoesNotExist'), exp('istio.io/rev', 'DoesNotExist')] },
            ),
          );
        }
      }
      new ApiObject(this, `Tag-${tag}`, {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: {
          name: RevisionTags.webhookName(tag),
          labels: {
            app: 'sidecar-injector',
            'app.kubernetes.io/name': 'istiod',
            'istio.io/rev': revision,
            'istio.io/tag': tag,
            'operator.istio.io/component': 'Pilot',
          },
          annotations: syncWave(SyncWave.AFTER_CONTROL_PLANE),
        },
        webhooks,
      });
    }
  }
}
