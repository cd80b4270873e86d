import { Construct } from 'constructs';
import { Gateway, GatewaySpecServersTlsMode } from '../../imports/networking.istio.io';
import { ISTIO_NAMESPACE } from '../topology/model';
import { EastWestGateway } from './east-west-gateway';
import { SyncWave, syncWave } from './sync-waves';

/**
 * `Gateway cross-network-gateway`: exposes all `*.local` services of this cluster to other networks
 * through the east-west gateway (port 15443, TLS AUTO_PASSTHROUGH), as Istio's
 * `samples/multicluster/expose-services.yaml`.
 *
 * @see https://istio.io/latest/docs/setup/install/multicluster/multi-primary_multi-network/#expose-services-in-cluster1
 */
export class CrossNetworkGateway extends Construct {
  public static readonly FILE = 'cross-network-gateway.yaml';

  constructor(scope: Construct, id: string) {
    super(scope, id);
    new Gateway(this, 'Resource', {
      metadata: { name: 'cross-network-gateway', namespace: ISTIO_NAMESPACE, annotations: syncWave(SyncWave.AFTER_CONTROL_PLANE) },
      spec: {
        selector: { istio: EastWestGateway.SELECTOR },
        servers: [
          {
            port: { number: 15443, name: 'tls', protocol: 'TLS' },
            tls: { mode: GatewaySpecServersTlsMode.AUTO_UNDERSCORE_PASSTHROUGH },
            hosts: ['*.local'],
          },
        ],
      },
    });
  }
}
