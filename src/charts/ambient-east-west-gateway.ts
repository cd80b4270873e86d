import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { ISTIO_NAMESPACE } from '../topology/model';
import { NETWORK_LABEL } from './istio-namespace';
import { SyncWave, syncWave } from './sync-waves';

/** Props of the ambient east-west gateway. */
export interface AmbientEastWestGatewayProps {
  /** The network this gateway serves (`topology.istio.io/network`). */
  readonly network: string;
  /**
   * The control plane revision that programs it (`istio.io/rev`; `gen-eastwest-gateway.sh --ambient` ignores
   * `--revision`, so the label is added as the ambient guide says to).
   * @default - none
   */
  readonly revision?: string;
}

/**
 * The east-west gateway of an ambient multi-network mesh: the Gateway API `Gateway` that
 * `samples/multicluster/gen-eastwest-gateway.sh --network <network> --ambient` prints. Class `istio-east-west` (which
 * istiod creates when `AMBIENT_ENABLE_MULTI_NETWORK` is on: `pilot/pkg/config/kube/gatewaycommon/classinfo.go`), one
 * listener `mesh` on 15008 with protocol HBONE, TLS terminated with ISTIO_MUTUAL. Peers find it through their remote
 * secret by its network label, class and listener (`pilot/pkg/serviceregistry/ambient/networks.go`): no address is
 * configured anywhere.
 *
 * A plain ApiObject (the Gateway API CRDs are a prerequisite; the object is validated against their schema in tests).
 *
 * @see https://istio.io/latest/docs/ambient/install/multicluster/multi-primary_multi-network/
 */
export class AmbientEastWestGateway extends Construct {
  public static readonly FILE = 'eastwest-gateway.yaml';
  /** The Gateway's name, as gen-eastwest-gateway.sh writes it. */
  public static readonly NAME = 'istio-eastwestgateway';

  constructor(scope: Construct, id: string, props: AmbientEastWestGatewayProps) {
    super(scope, id);
    new ApiObject(this, 'Resource', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: {
        name: AmbientEastWestGateway.NAME,
        namespace: ISTIO_NAMESPACE,
        labels: { [NETWORK_LABEL]: props.network, ...(props.revision ? { 'istio.io/rev': props.revision } : {}) },
        annotations: syncWave(SyncWave.GATEWAY),
      },
      spec: {
        gatewayClassName: 'istio-east-west',
        listeners: [
          {
            name: 'mesh',
            port: 15008,
            protocol: 'HBONE',
            tls: { mode: 'Terminate', options: { 'gateway.istio.io/tls-terminate-mode': 'ISTIO_MUTUAL' } },
          },
        ],
      },
    });
  }
}
