import { Construct } from 'constructs';
import { ISTIO_NAMESPACE } from '../topology/model';
import { NETWORK_LABEL } from './istio-namespace';
import { IstioOperator } from './istio-operator';
import { SyncWave, syncWave } from './sync-waves';

/** Props of the east-west gateway. */
export interface EastWestGatewayProps {
  /** The network this gateway serves; becomes `topology.istio.io/network`. */
  readonly network: string;
  /**
   * Service type of the gateway.
   * @default 'LoadBalancer'
   */
  readonly serviceType?: string;
  /**
   * The revision of the control plane that injects the gateway (`gen-eastwest-gateway.sh --revision`).
   * @default ''
   */
  readonly revision?: string;
}

/**
 * The east-west gateway, as `samples/multicluster/gen-eastwest-gateway.sh --network <network>` writes it:
 * gateway `istio-eastwestgateway` with ports 15021 (status), 15443 (mTLS), 15012 (istiod), 15017 (webhook).
 * istiod finds it by the `topology.istio.io/network` label on its Service.
 *
 * @see https://istio.io/latest/docs/setup/install/multicluster/multi-primary_multi-network/#install-the-east-west-gateway-in-cluster1
 */
export class EastWestGateway extends Construct {
  public static readonly FILE = 'eastwest-gateway.yaml';
  /** metadata.name of the IstioOperator (as `gen-eastwest-gateway.sh` names it). */
  public static readonly NAME = 'eastwest';
  /** The selector label value of the gateway pods (`istio: eastwestgateway`). */
  public static readonly SELECTOR = 'eastwestgateway';

  /** The IstioOperator spec of the gateway, as gen-eastwest-gateway.sh writes it. */
  public static spec(props: EastWestGatewayProps): Record<string, unknown> {
    const service: Record<string, unknown> = {
      ports: [
        { name: 'status-port', port: 15021, targetPort: 15021 },
        { name: 'tls', port: 15443, targetPort: 15443 },
        { name: 'tls-istiod', port: 15012, targetPort: 15012 },
        { name: 'tls-webhook', port: 15017, targetPort: 15017 },
      ],
    };
    if (props.serviceType && props.serviceType !== 'LoadBalancer') service.type = props.serviceType;
    return {
      revision: props.revision ?? '',
      profile: 'empty',
      components: {
        ingressGateways: [
          {
            name: 'istio-eastwestgateway',
            label: {
              istio: EastWestGateway.SELECTOR,
              app: 'istio-eastwestgateway',
              [NETWORK_LABEL]: props.network,
            },
            enabled: true,
            k8s: {
              // traffic through this gateway should be routed inside the network
              env: [{ name: 'ISTIO_META_REQUESTED_NETWORK_VIEW', value: props.network }],
              service,
            },
          },
        ],
      },
      values: {
        gateways: { 'istio-ingressgateway': { injectionTemplate: 'gateway' } },
        global: { network: props.network },
      },
    };
  }

  constructor(scope: Construct, id: string, props: EastWestGatewayProps) {
    super(scope, id);
    new IstioOperator(this, 'Resource', {
      name: EastWestGateway.NAME,
      namespace: ISTIO_NAMESPACE,
      annotations: syncWave(SyncWave.GATEWAY),
      spec: EastWestGateway.spec(props),
    });
  }
}
