import * as kplus from 'cdk8s-plus-27';
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
 */
export class ReaderToken extends Construct {
  public static readonly FILE = 'reader-token.yaml';

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const sa = kplus.ServiceAccount.fromServiceAccountName(this, 'ServiceAccount', READER_SERVICE_ACCOUNT);
    new kplus.ServiceAccountTokenSecret(this, 'Resource', {
      serviceAccount: sa,
      metadata: { name: READER_TOKEN_SECRET, namespace: ISTIO_NAMESPACE, annotations: syncWave(SyncWave.AFTER_CONTROL_PLANE) },
    });
  }
}
