import { CACERTS_KEYS, CaCerts, type CaCertsKey } from '../charts/ca-certs';
import type { ClusterSecrets, SealedRemoteSecret } from '../charts/cluster-chart';
import { kubeconfigTemplate, remoteSecretKubeconfig } from '../charts/remote-secret';
import { CheckFailed, InputError } from '../errors';
import { faultPoint } from '../fault';
import type { IntermediatePublic } from '../pki';
import { type Cluster, type Mesh, remoteSecretName, remoteSecretPeers } from '../topology/model';
import { loadMeshSealingCerts } from './mesh-certs';
import { SealedStore } from './sealed-store';
import { type Need, Sealer, UNSEALED_PLACEHOLDER } from './sealer';
import type { SealingCert } from './sealing-cert';
import { readKeptToken } from './tokens';

/**
 * The sealed kubeconfig of the remote secret for `peer` (its API server and CA, and its reader token when this
 * machine has it), reusing the committed ciphertext while neither the token nor the server or CA changed.
 */
export function sealRemoteSecret(
  sealer: Sealer,
  peer: { readonly peer: Cluster; readonly server: string; readonly certificateAuthorityData: string },
  token: string | undefined,
): string | undefined {
  const connection = { peer: peer.peer.name, server: peer.server, certificateAuthorityData: peer.certificateAuthorityData };
  const kubeconfig = token === undefined ? undefined : remoteSecretKubeconfig(connection, token);
  // The public part: the kubeconfig without its token (high-entropy input stays in the fingerprint of the whole).
  const publicPart = kubeconfigTemplate(connection, '<token>');
  return sealer.resolve(remoteSecretName(peer.peer.name), peer.peer.name, kubeconfig, kubeconfig, publicPart);
}

/** What the sealed-secrets provider needs from a synth run. */
export interface SealingContext {
  readonly workdir: string;
  readonly mesh: Mesh;
  readonly intermediates: Map<string, IntermediatePublic>;
  readonly noWork: boolean;
  readonly now?: Date;
  readonly needs: Need[];
  /** Write the changed stores (as pending files until commit); false with --check. */
  readonly write: boolean;
  /** The peers a cluster holds remote secrets for that have a server and CA. */
  readonly peersOf: (cluster: Cluster) => Cluster[];
  /**
   * With `noWork`: put {@link UNSEALED_PLACEHOLDER} where a value would be sealed (also the `cacerts` of a cluster whose
   * intermediate CA does not exist yet), so that `meshgen plan` sees every object synth would write.
   */
  readonly placeholders?: boolean;
}

/**
 * The sealed-secrets provider, one cluster at a time: reuses the committed ciphertext of `sealed/`, seals what
 * changed (a new intermediate, a new token, a new sealing certificate), and keeps the stores that changed.
 */
export class Sealing {
  /** Values sealed so far. */
  public sealed = 0;
  private readonly certs: Map<string, SealingCert>;
  private readonly store: SealedStore;
  private readonly tokens = new Map<string, string | undefined>();
  private readonly unsealedTokens = new Map<string, Cluster>();
  /** Clusters whose store changed; with `write`, each is already written as a pending file. */
  private readonly changed: string[] = [];

  constructor(private readonly ctx: SealingContext) {
    this.certs = loadMeshSealingCerts(ctx.workdir, ctx.mesh, ctx.now ?? new Date());
    this.store = new SealedStore(ctx.workdir);
  }

  /** The sealed secrets of a cluster, or undefined when its cacerts cannot be had here (a Need is recorded). */
  public secretsOf(cluster: Cluster): ClusterSecrets | undefined {
    const { mesh, intermediates, noWork, needs } = this.ctx;
    const cs = this.store.load(cluster.name);
    if (cs.unchecked > 0 && noWork) {
      needs.push({
        what: `sealed/${cluster.name}.yaml`,
        why: `${cs.unchecked} value(s) have no tamper check (written by an earlier meshgen); synth adds them`,
      });
    }
    const sealer = new Sealer(cs, this.certs.get(cluster.name) as SealingCert, noWork, needs, this.ctx.placeholders);

    // cacerts: the fingerprint of the key is that of the certificate it belongs to (the key/cert match is
    // checked when the intermediate is read), so CI can tell the committed ciphertext is current without the key.
    const ca = intermediates.get(cluster.name);
    const cacerts = {} as Record<CaCertsKey, string>;
    if (ca) {
      const files: Record<CaCertsKey, { fp: string; plain: string | undefined }> = {
        'ca-cert.pem': { fp: ca.caCertPem, plain: ca.caCertPem },
        'ca-key.pem': { fp: ca.caCertPem, plain: ca.caKeyPem },
        'cert-chain.pem': { fp: ca.certChainPem, plain: ca.certChainPem },
        'root-cert.pem': { fp: ca.rootCertPem, plain: ca.rootCertPem },
      };
      for (const key of CACERTS_KEYS) {
        const v = sealer.resolve(CaCerts.NAME, key, files[key].fp, files[key].plain);
        if (v === undefined && !noWork) {
          throw new InputError({
            file: `certs/${cluster.name}/ca-key.pem`,
            message: `is absent, and cacerts of ${cluster.name} must be (re)sealed`,
            fix: `run synth where certs/${cluster.name}/ca-key.pem is present, or delete certs/${cluster.name}/ to issue a new intermediate`,
          });
        }
        if (v !== undefined) cacerts[key] = v;
      }
    } else if (noWork && this.ctx.placeholders) {
      // No intermediate yet (synth issues it where the root key is; the Need is recorded by synth).
      for (const key of CACERTS_KEYS) cacerts[key] = UNSEALED_PLACEHOLDER;
    }

    const remoteSecrets: SealedRemoteSecret[] = [];
    for (const peer of this.ctx.peersOf(cluster)) {
      const token = this.tokenOf(peer);
      const connection = { peer, server: peer.server as string, certificateAuthorityData: peer.certificateAuthorityData as string };
      const sealedKubeconfig = sealRemoteSecret(sealer, connection, token);
      if (sealedKubeconfig === undefined) {
        // Not sealed, and no token here to seal it: warned (an error with --strict), unless --check/--frozen already
        // names a committed value that must be resealed (an older format, a changed server or CA).
        const stale = noWork && cs.get(remoteSecretName(peer.name), peer.name) !== undefined;
        if (token === undefined && !stale) this.unsealedTokens.set(peer.name, peer);
        continue;
      }
      remoteSecrets.push({ ...connection, sealedKubeconfig });
    }
    const wanted = new Set([CaCerts.NAME, ...remoteSecretPeers(mesh, cluster).map((p) => remoteSecretName(p.name))]);
    cs.retain((secret) => wanted.has(secret));
    this.sealed += sealer.sealed;
    if (cs.dirty) {
      this.changed.push(cluster.name);
      if (this.ctx.write) this.store.savePending(cs);
    }
    return Object.keys(cacerts).length === CACERTS_KEYS.length ? { provider: 'sealed-secrets', cacerts, remoteSecrets } : undefined;
  }

  /** The clusters whose store changed. */
  public dirty(): readonly string[] {
    return this.changed;
  }

  /** Puts the changed stores in place. */
  public commit(): void {
    if (!this.ctx.write) return;
    if (this.changed.length > 0) faultPoint('sealed.before-commit');
    for (const c of this.changed) this.store.commitPending(c);
    this.changed.length = 0;
  }

  /** Drops the changed stores (the run failed). */
  public discard(): void {
    // Only what this run wrote: a --check run wrote nothing, and must not remove a pending file that is not its own.
    if (!this.ctx.write) return;
    for (const c of this.changed) this.store.discardPending(c);
  }

  /** After the last cluster: the warning about tokens not sealed yet (an error with `strict`). */
  public finish(strict?: boolean): string[] {
    if (this.unsealedTokens.size === 0) return [];
    const list = [...this.unsealedTokens.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    const msg =
      `remote secrets for ${list.map((c) => c.name).join(', ')} are omitted until their reader tokens are sealed; for each, run: ` +
      list.map((c) => `meshgen seal-token --context ${c.context} --token-file <file>`).join('; ');
    if (strict) throw new CheckFailed(`--strict: ${msg}`);
    return [msg];
  }

  private tokenOf(c: Cluster): string | undefined {
    if (!this.tokens.has(c.name)) this.tokens.set(c.name, readKeptToken(this.ctx.workdir, c.name));
    return this.tokens.get(c.name);
  }
}
