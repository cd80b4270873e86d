import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, type Problem } from '../errors';
import { faultPoint } from '../fault';
import { ensureGitignore, READ_LIMITS, readBounded } from '../fs-util';
import { withWorkdirLock } from '../lock';
import { type Logger, progressCounter } from '../log';
import { loadMeshSealingCerts } from '../secrets/mesh-certs';
import { type ClusterSeals, SealedStore } from '../secrets/sealed-store';
import { Sealer } from '../secrets/sealer';
import { sealRemoteSecret } from '../secrets/sealing';
import type { SealingCert } from '../secrets/sealing-cert';
import { keepToken, normalizeToken } from '../secrets/tokens';
import { findContext, loadTopology } from '../topology/load';
import { type Cluster, remoteSecretPeers } from '../topology/model';
import { GITIGNORE_LINES } from './prep';

/** One token to seal: the kube context whose reader token it is. */
export interface TokenInput {
  readonly context: string;
  /** The raw token (a trailing newline is allowed). */
  readonly token: string;
  /** Where the token came from, for error messages (a file name, or `stdin`). */
  readonly source: string;
}

/** Options of `seal-token`. */
export interface SealTokenOptions {
  readonly workdir: string;
  /** The tokens, one per context. */
  readonly tokens: readonly TokenInput[];
  readonly now?: Date;
  /** Progress of the sealing, token by token (on a TTY). */
  readonly log?: Logger;
}

/** What seal-token did for one cluster. */
export interface SealTokenResult {
  readonly cluster: string;
  /** Primaries whose `istio-remote-secret-<cluster>` now holds the token (sealed now or already). */
  readonly holders: string[];
  /** Values sealed in this run (0 when the same token was already sealed for every holder). */
  readonly sealed: number;
}

/**
 * Seals each cluster's reader token into the remote secret `istio-remote-secret-<cluster>` of every primary that
 * needs it, and keeps the token (git-ignored, 0600) so later synths can seal it for new primaries or renewed sealing
 * certificates. The same token again changes nothing. Every input is checked, and every store read, before anything
 * is written; many tokens are sealed in one pass over the stores (`--token-dir`).
 */
export function sealTokens(opts: SealTokenOptions): SealTokenResult[] {
  return withWorkdirLock(opts.workdir, 'meshgen seal-token', 'exclusive', () => sealTokensLocked(opts));
}

function sealTokensLocked(opts: SealTokenOptions): SealTokenResult[] {
  const mesh = loadTopology(opts.workdir);
  const problems: Problem[] = [];
  const inputs: { cluster: Cluster; token: string }[] = [];
  for (const t of opts.tokens) {
    try {
      const cluster = findContext(mesh, t.context);
      if (inputs.some((i) => i.cluster.name === cluster.name)) {
        problems.push({ file: t.source, message: `a second token for ${t.context}`, fix: 'give each context one token' });
        continue;
      }
      inputs.push({ cluster, token: normalizeToken(t.token, t.source) });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      problems.push(...e.problems);
    }
  }
  if (problems.length > 0) throw new InputError(problems);
  const holdersOf = (c: Cluster) => mesh.clusters.filter((h) => remoteSecretPeers(mesh, h).some((p) => p.name === c.name));
  const holders = [...new Set(inputs.flatMap((i) => holdersOf(i.cluster)))];
  const certs = loadMeshSealingCerts(opts.workdir, mesh, opts.now ?? new Date(), holders);
  const store = new SealedStore(opts.workdir);
  // Read (and so validate) every store before writing any: a bad one must not leave half the holders updated.
  const stores = loadAll(store, holders);
  const results: SealTokenResult[] = [];
  const progress = opts.log && inputs.length > 1 ? progressCounter(opts.log, 'sealing reader tokens') : undefined;
  let sealedSoFar = 0;
  for (const [i, { cluster, token }] of inputs.entries()) {
    progress?.(i, inputs.length, `${sealedSoFar.toLocaleString('en-US')} values sealed`);
    let sealed = 0;
    const hs = holdersOf(cluster);
    for (const h of hs) {
      const sealer = new Sealer(stores.get(h.name) as ClusterSeals, certs.get(h.name) as SealingCert, false, []);
      if (cluster.server === undefined || cluster.certificateAuthorityData === undefined) continue;
      sealRemoteSecret(sealer, { peer: cluster, server: cluster.server, certificateAuthorityData: cluster.certificateAuthorityData }, token);
      sealed += sealer.sealed;
    }
    results.push({ cluster: cluster.name, holders: hs.map((h) => h.name), sealed });
    sealedSoFar += sealed;
  }
  progress?.(inputs.length, inputs.length);
  // The tokens are kept only where .gitignore keeps them out of git.
  ensureGitignore(path.resolve(opts.workdir), GITIGNORE_LINES);
  for (const seals of stores.values()) if (seals.dirty) store.save(seals);
  faultPoint('seal-token.stores-saved');
  for (const { cluster, token } of inputs) keepToken(path.resolve(opts.workdir), cluster.name, token);
  return results;
}

/** Reads every token file of a directory: the file name (without a `.token` extension) is the kube context. */
export function tokensOfDirectory(dir: string): TokenInput[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((f) => !f.startsWith('.') && fs.statSync(path.join(dir, f)).isFile());
  } catch (e) {
    throw new InputError({
      file: dir,
      message: `--token-dir cannot be read (${(e as NodeJS.ErrnoException).code})`,
      fix: 'pass a directory of token files named after their contexts',
    });
  }
  if (names.length === 0)
    throw new InputError({ file: dir, message: '--token-dir holds no token file', fix: 'write one file per context, named after the context' });
  return names.sort().map((f) => {
    const source = path.join(dir, f);
    const token = readBounded(source, {
      limit: READ_LIMITS.token,
      display: source,
      what: 'the token file',
      fix: `keep only token files (at most ${READ_LIMITS.token / 1024} KiB each) in --token-dir`,
    });
    return { context: f.replace(/\.token$/, ''), token, source };
  });
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
