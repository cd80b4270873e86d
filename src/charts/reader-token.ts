import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ISTIO_NAMESPACE, READER_SERVICE_ACCOUNT, READER_TOKEN_SECRET } from '../topology/model';
import { SyncWave, syncWave } from './sync-waves';

/**
 * The long-lived token Secret of `istio-reader-service-account`, the one `istioctl create-remote-secret`
 * creates on Kubernetes 1.24+: the cluster mints the token that its peers' remote secrets carry. It is
 * applied after the control plane, which creates the service account.
 *
 * Read the minted token with:
 * `kubectl -n istio-system get secret istio-reader-service-account-istio-remote-secret-token -o jsonpath='{.data.token}' | base64 -d`
 *
 * @see https://kubernetes.io/docs/concepts/configuration/secret/#service-account-token-secrets
 */
export class ReaderToken extends Construct {
  public static readonly FILE = 'reader-token.yaml';

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // The L1 object: cdk8s-plus's ServiceAccountTokenSecret adds `immutable: false` and `stringData: {}`,
    // which this Secret (filled by the token controller) should not carry.
    new k8s.KubeSecret(this, 'Resource', {
      metadata: {
        name: READER_TOKEN_SECRET,
        namespace: ISTIO_NAMESPACE,
        annotations: { 'kubernetes.io/service-account.name': READER_SERVICE_ACCOUNT, ...syncWave(SyncWave.AFTER_CONTROL_PLANE) },
      },
      type: 'kubernetes.io/service-account-token',
    });
  }
}
