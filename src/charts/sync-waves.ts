/**
 * Argo CD sync waves. Within one Application, a sync applies wave by wave and each wave must be synced and healthy
 * before the next starts (gitops-engine `pkg/sync/sync_context.go`: tasks are grouped by wave, and a wave's resources
 * must be healthy before the next wave is applied). Waves do not order objects across Applications, which is why each
 * cluster is one Application (the cluster directory plus, with the helm installer, Istio's charts as further sources).
 *
 * - `cacerts` and the remote secrets are decrypted before istiod starts: istiod self-signs when `cacerts` is missing
 *   and does not switch later without a restart (istio/istio#30209; `pilot/pkg/bootstrap/istio_ca.go`).
 * - The reader token Secret comes after the control plane wave, which creates its ServiceAccount (the base chart's
 *   `reader-serviceaccount.yaml`): the token controller deletes a token Secret whose ServiceAccount does not exist
 *   (kubernetes `pkg/controller/serviceaccount/tokens_controller.go`, `syncSecret`).
 * - The east-west gateway comes last: on a remote its pods are injected by the primary's istiod, which needs the
 *   remote secret made from this cluster's reader token; nothing waits on the gateway.
 *
 * @see https://argo-cd.readthedocs.io/en/stable/user-guide/sync-waves/
 */
export const SYNC_WAVE_ANNOTATION = 'argocd.argoproj.io/sync-wave';

export enum SyncWave {
  /** The istio-system Namespace. */
  NAMESPACE = -2,
  /** cacerts and remote secrets (health-gated: the Secret exists once the SealedSecret or ExternalSecret is healthy). */
  SECRETS = -1,
  /** The control plane install: Istio's base and istiod charts (helm), the Sail `Istio` resource, or an IstioOperator. */
  CONTROL_PLANE = 0,
  /** The reader token Secret (its ServiceAccount comes with the control plane), and Istio config (its CRDs come with it). */
  AFTER_CONTROL_PLANE = 1,
  /** What reads the minted reader token (the External Secrets PushSecret). */
  AFTER_READER_TOKEN = 2,
  /** The east-west gateway (on a remote it waits for injection by its primary, which needs this cluster's token). */
  GATEWAY = 3,
  /** External Secrets remote secrets: each is Degraded until its peer pushed its token, so nothing may wait on them. */
  REMOTE_SECRETS = 4,
}

/** The annotation map for a wave. */
export function syncWave(wave: SyncWave): Record<string, string> {
  return { [SYNC_WAVE_ANNOTATION]: String(wave) };
}
