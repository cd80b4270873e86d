import * as path from 'node:path';
import { InputError, type Problem } from './errors';
import { loadMeshSealingCerts } from './secrets/mesh-certs';
import { type ClusterSeals, SealedStore } from './secrets/sealed-store';
import { Sealer } from './secrets/sealer';
import type { SealingCert } from './secrets/sealing-cert';
import { keepToken, normalizeToken } from './secrets/tokens';
import { loadTopology } from './topology/load';
import { type Cluster, type Mesh, remoteSecretName, remoteSecretPeers } from './topology/model';
import { nearest } from './topology/validate';

/** Options of `seal-token`. */
export interface SealTokenOptions {
  readonly workdir: string;
  /** The kube context whose reader token this is. */
  readonly context: string;
  /** The raw token (a trailing newline is allowed). */
  readonly token: string;
  /** Where the token came from, for error messages (a file name, or `stdin`). */
  readonly source: string;
  readonly now?: Date;
}

/** What seal-token did. */
export interface SealTokenResult {
  readonly cluster: string;
  /** Primaries whose `istio-remote-secret-<cluster>` now holds the token (sealed now or already). */
  readonly holders: string[];
  /** Values sealed in this run (0 when the same token was already sealed for every holder). */
  readonly sealed: number;
}

/**
 * Seals a cluster's reader token into the remote secret `istio-remote-secret-<cluster>` of every primary
 * that needs it, and keeps the token (git-ignored, 0600) so later synths can seal it for new primaries or
 * renewed sealing certificates. The same token again changes nothing.
 */
export function sealToken(opts: SealTokenOptions): SealTokenResult {
  const mesh = loadTopology(opts.workdir);
  const cluster = findContext(mesh, opts.context);
  const token = normalizeToken(opts.token, opts.source);
  const holders = mesh.clusters.filter((h) => remoteSecretPeers(mesh, h).some((p) => p.name === cluster.name));
  const certs = loadMeshSealingCerts(opts.workdir, mesh, opts.now ?? new Date(), holders);
  const store = new SealedStore(opts.workdir);
  // Read (and so validate) every store before writing any: a bad one must not leave half the holders updated.
  const stores = loadAll(store, holders);
  let sealed = 0;
  for (const h of holders) {
    const seals = stores.get(h.name) as ClusterSeals;
    const sealer = new Sealer(seals, certs.get(h.name) as SealingCert, false, []);
    sealer.resolve(remoteSecretName(cluster.name), cluster.name, token, token);
    sealed += sealer.sealed;
  }
  for (const seals of stores.values()) if (seals.dirty) store.save(seals);
  keepToken(path.resolve(opts.workdir), cluster.name, token);
  return { cluster: cluster.name, holders: holders.map((h) => h.name), sealed };
}

function loadAll(store: SealedStore, clusters: readonly Cluster[]): Map<string, ClusterSeals> {
  const out = new Map<string, ClusterSeals>();
  const problems: Problem[] = [];
  for (const c of clusters) {
    try {
      out.set(c.name, store.load(c.name));
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      problems.push(...e.problems);
    }
  }
  if (problems.length > 0) throw new InputError(problems);
  return out;
}

/** The cluster of a kube context, or an InputError that suggests the nearest context. */
export function findContext(mesh: Mesh, context: string): Cluster {
  const c = mesh.clusters.find((x) => x.context === context);
  if (c) return c;
  const names = mesh.clusters.map((x) => x.context);
  const hint = nearest(context, names);
  throw new InputError({
    file: 'command line',
    path: '--context',
    message: `${JSON.stringify(context)} is not a context of topology.yaml${hint ? `; did you mean "${hint}"?` : ''}`,
    fix: `use one of: ${names.join(', ')}`,
  });
}
