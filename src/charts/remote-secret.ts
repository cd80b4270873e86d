import { Construct } from 'constructs';
import { SealedSecret } from '../../imports/bitnami.com';
import { toYaml } from '../output/render';
import { ISTIO_NAMESPACE, remoteSecretName } from '../topology/model';
import { SyncWave, syncWave } from './sync-waves';

/** Props of one remote secret. */
export interface RemoteSecretProps {
  /** The peer cluster's name: the Secret's data key, annotation and kubeconfig names. */
  readonly peer: string;
  /** The peer's API server URL. */
  readonly server: string;
  /** Base64 PEM of the peer's API server CA. */
  readonly certificateAuthorityData: string;
  /** The peer's reader token, sealed for `istio-system/istio-remote-secret-<peer>` under the key `<peer>`. */
  readonly sealedToken: string;
}

/**
 * `istio-remote-secret-<peer>` as `istioctl create-remote-secret --name <peer>` writes it (label
 * `istio/multiCluster: "true"`, annotation `networking.istio.io/cluster`, one key `<peer>` holding a
 * kubeconfig), as a SealedSecret that seals only the token.
 *
 * The sealed token sits under the key `<peer>`; `spec.template.data.<peer>` renders the kubeconfig from it.
 * The controller first decrypts every `encryptedData` key into the Secret, then renders each template key
 * over it, so the rendered kubeconfig replaces the bare token and the Secret has exactly one key, as
 * istiod expects (it reads every key as a cluster's kubeconfig).
 *
 * @see https://istio.io/latest/docs/reference/commands/istioctl/#istioctl-create-remote-secret
 */
export class RemoteSecret extends Construct {
  public static readonly FILE = 'remote-secrets.yaml';

  constructor(scope: Construct, id: string, props: RemoteSecretProps) {
    super(scope, id);
    const name = remoteSecretName(props.peer);
    new SealedSecret(this, 'Resource', {
      metadata: { name, namespace: ISTIO_NAMESPACE, annotations: syncWave(SyncWave.SECRETS) },
      spec: {
        encryptedData: { [props.peer]: props.sealedToken },
        template: {
          metadata: {
            name,
            namespace: ISTIO_NAMESPACE,
            labels: { 'istio/multiCluster': 'true' },
            annotations: { 'networking.istio.io/cluster': props.peer },
          },
          type: 'Opaque',
          data: { [props.peer]: kubeconfigTemplate(props) },
        },
      },
    });
  }
}

/**
 * The kubeconfig of `istioctl create-remote-secret` (cluster, context and user named after the peer), with
 * the token as a Go template expression: by default the decrypted key `<peer>` of the Sealed Secrets template
 * engine; External Secrets passes `{{ .token }}`.
 */
export function kubeconfigTemplate(
  props: Pick<RemoteSecretProps, 'peer' | 'server' | 'certificateAuthorityData'>,
  tokenExpression = `{{ index . "${props.peer}" }}`,
): string {
  // Names such as "123" or "yes" must stay strings in the kubeconfig (client-go reads it as YAML).
  const p = yamlScalar(props.peer);
  return [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${props.certificateAuthorityData}`,
    `    server: ${props.server}`,
    `  name: ${p}`,
    'contexts:',
    '- context:',
    `    cluster: ${p}`,
    `    user: ${p}`,
    `  name: ${p}`,
    `current-context: ${p}`,
    'kind: Config',
    'users:',
    `- name: ${p}`,
    '  user:',
    `    token: ${tokenExpression}`,
    '',
  ].join('\n');
}

/** A string as a YAML scalar: plain when YAML (1.1, as client-go reads it) reads it back as the same string, else quoted. */
function yamlScalar(value: string): string {
  return toYaml(value).trimEnd();
}
