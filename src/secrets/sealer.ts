import { ISTIO_NAMESPACE } from '../topology/model';
import { sealingLabel, sealValue } from './kubeseal';
import { type ClusterSeals, fingerprint } from './sealed-store';
import type { SealingCert } from './sealing-cert';

/**
 * What a synth run that collects its tree for `meshgen plan` writes in place of a value it would have to seal (it never
 * seals): `encryptedData` holding it means "sealed by the next `meshgen synth`". Never written to disk.
 */
export const UNSEALED_PLACEHOLDER = '<sealed by the next meshgen synth>';

/** Something that needs new keys or sealing, which `--frozen` and `--check` refuse to do. */
export interface Need {
  readonly what: string;
  readonly why: string;
}

/**
 * Seals values for one cluster, reusing committed ciphertext: a value is sealed again only when what
 * was sealed changed (its fingerprint differs) or the sealing certificate changed.
 */
export class Sealer {
  /** Values sealed by this sealer. */
  public sealed = 0;

  /**
   * @param seals the cluster's store, reset first when it was sealed with another certificate
   * @param cert the cluster's sealing certificate
   * @param frozen record a Need instead of sealing
   * @param needs where Needs are recorded
   * @param placeholders (frozen only) return {@link UNSEALED_PLACEHOLDER} for a value that synth would seal where the
   *   private inputs are, instead of nothing (`meshgen plan`)
   */
  constructor(
    private readonly seals: ClusterSeals,
    private readonly cert: SealingCert,
    private readonly frozen: boolean,
    private readonly needs: Need[],
    private readonly placeholders = false,
  ) {
    if (seals.sealingCert !== cert.fingerprint) {
      if (seals.size > 0 && frozen) {
        needs.push({ what: `sealed/${seals.cluster}.yaml`, why: 'the sealing certificate changed; every value must be sealed again' });
      }
      seals.reset(cert.fingerprint);
    }
  }

  /**
   * The sealed value of `secret`/`key` in istio-system.
   *
   * @param fpInput what identifies the value (the value itself, or for a private key its certificate);
   *   undefined when unknown here, in which case a committed value is trusted as is
   * @param plaintext the value, when this machine has it
   * @param publicInput the public part of the value (a remote secret's peer, server and CA), known even where the value
   *   is not: a committed value whose public part differs (or was not recorded) is stale, here or in CI
   * @returns the ciphertext, or undefined when there is none and it cannot be made here
   */
  public resolve(secret: string, key: string, fpInput: string | undefined, plaintext: string | undefined, publicInput?: string): string | undefined {
    const label = sealingLabel(ISTIO_NAMESPACE, secret).toString();
    const entry = this.seals.get(secret, key);
    const fp = fpInput === undefined ? undefined : fingerprint(label, key, fpInput);
    const pub = publicInput === undefined ? undefined : fingerprint(label, `${key}\0public`, publicInput);
    if (entry && (fp === undefined || entry.sha256 === fp) && entry.publicSha256 === pub) return entry.value;
    const what = `sealed/${this.seals.cluster}.yaml ${secret}/${key}`;
    // Why a committed value cannot be reused (a remote secret of the old token-only format, a changed server or CA).
    const stale =
      entry && pub !== undefined
        ? entry.publicSha256 === undefined
          ? 'sealed in an older format (the token alone); it is resealed as a whole kubeconfig from the kept reader token'
          : entry.publicSha256 !== pub
            ? "the peer's server or CA changed; it is resealed from the kept reader token"
            : undefined
        : undefined;
    const placeholder = this.frozen && this.placeholders ? UNSEALED_PLACEHOLDER : undefined;
    if (plaintext === undefined || fp === undefined) {
      if (entry && this.frozen && stale) {
        this.needs.push({ what, why: stale });
        return placeholder;
      }
      // A value known here (e.g. a new intermediate's certificate) whose private part is on the sealing machine only.
      if (placeholder !== undefined && fp !== undefined) {
        this.needs.push({ what, why: `${entry ? 'the value changed' : 'not sealed yet'} (the private input is not on this machine)` });
        return placeholder;
      }
      return undefined;
    }
    if (this.frozen) {
      this.needs.push({ what, why: stale ?? (entry ? 'the value changed' : 'not sealed yet') });
      return placeholder;
    }
    const value = sealValue(this.cert, ISTIO_NAMESPACE, secret, plaintext);
    this.seals.set(secret, key, pub === undefined ? { sha256: fp, value } : { publicSha256: pub, sha256: fp, value });
    this.sealed++;
    return value;
  }
}
