import { Construct } from 'constructs';
import { Kustomization, KustomizationSpecSourceRefKind } from '../../imports/kustomize.toolkit.fluxcd.io';
import { CaCerts } from '../charts/ca-certs';
import { STAGES, Stage } from '../charts/cluster-chart';
import type { GitOps } from '../topology/model';

/** Props of a cluster's Flux Kustomizations. */
export interface FluxKustomizationsProps {
  /** The cluster name (its directory under dist/clusters/). */
  readonly cluster: string;
  /** dist path and the GitRepository holding it. */
  readonly gitops: GitOps;
  /** The stages that exist in this cluster's directory (every stage, today). */
  readonly stages?: readonly Stage[];
}

/**
 * The Flux Kustomizations that apply `dist/clusters/<cluster>` stage by stage: `secrets` (Namespace, cacerts,
 * remote secrets), then `control-plane`, then `post-install`, each `dependsOn` the one before. The secrets stage
 * is Ready only once the Sealed Secrets controller has created the `cacerts` Secret (a health check on it), so
 * istiod never starts without its CA and never self-signs.
 *
 * Apply the file on the cluster, e.g. with `flux bootstrap ... --path=<dist>/flux/<cluster>`.
 *
 * @see https://fluxcd.io/flux/components/kustomize/kustomizations/
 */
export class FluxKustomizations extends Construct {
  public static readonly FILE = 'kustomizations.yaml';

  constructor(scope: Construct, id: string, props: FluxKustomizationsProps) {
    super(scope, id);
    const stages = props.stages ?? STAGES;
    let previous: string | undefined;
    for (const stage of stages) {
      const name = `istio-${stage}`;
      new Kustomization(this, stage, {
        metadata: { name, namespace: 'flux-system' },
        spec: {
          interval: '10m',
          retryInterval: '1m',
          timeout: '5m',
          path: `./${props.gitops.path}/clusters/${props.cluster}/${stage}`,
          prune: true,
          sourceRef: { kind: KustomizationSpecSourceRefKind.GIT_REPOSITORY, name: props.gitops.fluxSource },
          dependsOn: previous ? [{ name: previous }] : undefined,
          wait: stage !== Stage.SECRETS ? true : undefined,
          healthChecks: stage === Stage.SECRETS ? [{ apiVersion: 'v1', kind: 'Secret', name: CaCerts.NAME, namespace: 'istio-system' }] : undefined,
        },
      });
      previous = name;
    }
  }
}
