import { Construct } from 'constructs';
import { ISTIO_NAMESPACE } from '../topology/model';
import { IstioOperator } from './istio-operator';
import { deepMerge } from './merge';
import { SyncWave, syncWave } from './sync-waves';

/** Props of a cluster's control plane install. */
export interface ControlPlaneProps {
  /** `spec` of base.yaml, shared by every cluster. */
  readonly base: Record<string, unknown>;
  /** `values.global.meshID`. */
  readonly meshID: string;
  /** `values.global.multiCluster.clusterName`. */
  readonly clusterName: string;
  /** `values.global.network`. */
  readonly network: string;
}

/**
 * The control plane IstioOperator of one cluster: base.yaml with the cluster's meshID, clusterName and
 * network merged over it (the generated values win).
 *
 * @see https://istio.io/latest/docs/setup/install/multicluster/multi-primary_multi-network/
 */
export class ControlPlane extends Construct {
  public static readonly FILE = 'control-plane.yaml';
  /** metadata.name of the IstioOperator. */
  public static readonly NAME = 'control-plane';

  constructor(scope: Construct, id: string, props: ControlPlaneProps) {
    super(scope, id);
    const overlay = {
      values: {
        global: {
          meshID: props.meshID,
          multiCluster: { clusterName: props.clusterName },
          network: props.network,
        },
      },
    };
    new IstioOperator(this, 'Resource', {
      name: ControlPlane.NAME,
      namespace: ISTIO_NAMESPACE,
      annotations: syncWave(SyncWave.CONTROL_PLANE),
      spec: deepMerge(props.base, overlay),
    });
  }
}
