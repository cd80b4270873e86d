import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ISTIO_NAMESPACE } from '../topology/model';
import { SyncWave, syncWave } from './sync-waves';

/** Label that sets the default network of every workload in a cluster. */
export const NETWORK_LABEL = 'topology.istio.io/network';

/** Props of the `istio-system` Namespace. */
export interface IstioNamespaceProps {
  /**
   * The cluster's network; set as the `topology.istio.io/network` label.
   * @default - no label (single-network mesh)
   * @see https://istio.io/latest/docs/setup/install/multicluster/multi-primary_multi-network/
   */
  readonly network?: string;
  /**
   * For a remote cluster: the cluster name of the primary whose istiod manages it; set as the
   * `topology.istio.io/controlPlaneClusters` annotation.
   * @default - none (a primary)
   * @see https://istio.io/latest/docs/setup/install/multicluster/primary-remote/
   */
  readonly controlPlaneClusters?: string;
  /**
   * Further namespaces to create in the same wave (the Sail ambient components' `istio-cni` and `ztunnel`).
   * @default - none
   */
  readonly others?: readonly string[];
}

/** The `istio-system` Namespace, labelled with the cluster's network in a multi-network mesh. */
export class IstioNamespace extends Construct {
  public static readonly FILE = 'namespace.yaml';

  constructor(scope: Construct, id: string, props: IstioNamespaceProps) {
    super(scope, id);
    new kplus.Namespace(this, 'Resource', {
      metadata: {
        name: ISTIO_NAMESPACE,
        labels: props.network ? { [NETWORK_LABEL]: props.network } : undefined,
        annotations: {
          ...(props.controlPlaneClusters ? { 'topology.istio.io/controlPlaneClusters': props.controlPlaneClusters } : {}),
          ...syncWave(SyncWave.NAMESPACE),
        },
      },
    });
    for (const name of props.others ?? []) {
      new kplus.Namespace(this, name, { metadata: { name, annotations: syncWave(SyncWave.NAMESPACE) } });
    }
  }
}
