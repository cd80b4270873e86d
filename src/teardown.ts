import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderKustomization } from './output/render';
import { readTree, type Tree, writeTree } from './output/tree';
import { DIST_DIR } from './synth';

/** What teardown did. */
export interface TeardownResult {
  /** Clusters whose directory was emptied. */
  readonly clusters: string[];
  /** Files removed, relative to the work directory. */
  readonly removed: string[];
}

/**
 * Empties every `dist/clusters/<cluster>/`, leaving only a kustomization.yaml with no resources, so that
 * once committed Argo CD / Flux prune everything meshgen installed while the Application / Kustomization
 * pointing at the directory stays valid. `certs/`, `sealed/`, topology.yaml and base.yaml are kept; a later
 * synth brings everything back, with the same ciphertext.
 */
export function teardown(workdir: string): TeardownResult {
  const root = path.join(workdir, DIST_DIR);
  const current = readTree(root);
  const next: Tree = new Map();
  const clusters = new Set<string>();
  for (const p of current.keys()) {
    const m = /^clusters\/([^/]+)\//.exec(p);
    if (m) clusters.add(m[1]);
    else next.set(p, current.get(p) as string);
  }
  for (const c of clusters) next.set(`clusters/${c}/kustomization.yaml`, renderKustomization([]));
  const diff = writeTree(root, current, next);
  if (!fs.existsSync(root)) fs.mkdirSync(root);
  return { clusters: [...clusters].sort(), removed: diff.removed.map((p) => `${DIST_DIR}/${p}`) };
}
