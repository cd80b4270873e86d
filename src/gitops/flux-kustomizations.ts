import { Construct } from 'constructs';
import { Kustomization, KustomizationSpecSourceRefKind } from '../../imports/kustomize.toolkit.fluxcd.io';
import { type GitOps, ISTIO_NAMESPACE } from '../topology/model';

/** One Flux Kustomization: a directory applied after the previous one is Ready. */
export interface FluxStage {
  /** Name of the Kustomization (in flux-system). */
  readonly name: string;
  /** Path in the repository, relative to its root (e.g. `dist/clusters/east-1/secrets`). */
  readonly path: string;
  /**
   * The Kustomization this one waits for (it must be Ready first).
   * @default - none: the first stage
   */
  readonly dependsOn?: string;
  /**
   * Ready once these objects (in istio-system) are Current, rather than once every applied object is (`wait`): the
   * `cacerts` Secret for the secrets stage; the reader ServiceAccount and istiod for an IstioOperator, which has no
   * status conditions (kstatus would call it Current at once).
   * @default - `wait: true`
   */
  readonly healthChecks?: readonly { readonly apiVersion: string; readonly kind: string; readonly name: string }[];
}

/** Props of a cluster's Flux Kustomizations. */
export interface FluxKustomizationsProps {
  /** The stages, in apply order; each waits for the one its `dependsOn` names. */
  readonly stages: readonly FluxStage[];
  /** The GitRepository holding the repository. */
  readonly gitops: GitOps;
}

/**
 * The Flux Kustomizations that apply a cluster's output stage by stage, each after the one its `dependsOn` names is
 * Ready (see `gitopsFiles` for the graph). The secrets stage is
 * Ready only once the Sealed Secrets controller (or External Secrets) has created the `cacerts` Secret (a health
 * check on it), so istiod never starts without its CA and never self-signs.
 *
 * @see https://fluxcd.io/flux/components/kustomize/kustomizations/
 */
export class FluxKustomizations extends Construct {
  public static readonly FILE = 'kustomizations.yaml';

  constructor(scope: Construct, id: string, props: FluxKustomizationsProps) {
    super(scope, id);
    for (const stage of props.stages) {
      new Kustomization(this, stage.name, {
        metadata: { name: stage.name, namespace: 'flux-system' },
        spec: {
          interval: '10m',
          retryInterval: '1m',
          timeout: '5m',
          path: `./${stage.path}`,
          prune: true,
          sourceRef: { kind: KustomizationSpecSourceRefKind.GIT_REPOSITORY, name: props.gitops.fluxSource },
          dependsOn: stage.dependsOn ? [{ name: stage.dependsOn }] : undefined,
          wait: stage.healthChecks ? undefined : true,
          healthChecks: stage.healthChecks?.map((h) => ({ ...h, namespace: ISTIO_NAMESPACE })),
        },
      });
    }
  }
}
