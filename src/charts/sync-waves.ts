/**
 * Argo CD sync waves: each wave must be synced and healthy before the next starts, so `cacerts` and the
 * remote secrets are decrypted before istiod starts (istiod self-signs when `cacerts` is missing and does
 * not switch later without a restart; istio/istio#30209).
 *
 * @see https://argo-cd.readthedocs.io/en/stable/user-guide/sync-waves/
 */
export const SYNC_WAVE_ANNOTATION = 'argocd.argoproj.io/sync-wave';

export enum SyncWave {
  /** The istio-system Namespace. */
  NAMESPACE = -2,
  /** cacerts and remote secrets. */
  SECRETS = -1,
  /** The control plane install. */
  CONTROL_PLANE = 0,
  /** Gateways, and the reader token Secret (its service account comes with the control plane). */
  AFTER_CONTROL_PLANE = 1,
  /** What reads the minted reader token (the External Secrets PushSecret). */
  AFTER_READER_TOKEN = 2,
}

/** The annotation map for a wave. */
export function syncWave(wave: SyncWave): Record<string, string> {
  return { [SYNC_WAVE_ANNOTATION]: String(wave) };
}
