import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { renderKustomization } from './output/render';
import { readTree, recoverTree, type Tree, writeTree } from './output/tree';
import { DIST_DIR } from './synth';

/** What teardown did. */
export interface TeardownResult {
  /** Clusters whose directory was emptied. */
  readonly clusters: string[];
  /** Files removed, relative to the work directory. */
  readonly removed: string[];
}

/**
 * Empties every `dist/clusters/<cluster>/`, leaving only kustomization.yaml files with no manifests, so that
 * once committed Argo CD / Flux prune everything meshgen installed while the Application / Kustomization
 * pointing at the directory stays valid. `certs/`, `sealed/`, topology.yaml and base.yaml are kept; a later
 * synth brings everything back, with the same ciphertext.
 */
export function teardown(workdir: string): TeardownResult {
  const root = path.join(workdir, DIST_DIR);
  recoverTree(root); // an interrupted synth first: tear down the tree that is really there
  const current = readTree(root);
  const next: Tree = new Map();
  const clusters = new Set<string>();
  for (const [p, content] of current) {
    const m = /^clusters\/([^/]+)\//.exec(p);
    if (!m) {
      next.set(p, content); // the Argo CD and Flux entry points stay, so they prune what they applied
      continue;
    }
    clusters.add(m[1]);
    // Every kustomization.yaml stays, listing only its subdirectories, so each Flux Kustomization / Argo CD
    // Application still finds its path and builds to nothing.
    if (path.posix.basename(p) === 'kustomization.yaml') next.set(p, renderKustomization(subdirectories(content)));
  }
  const diff = writeTree(root, current, next);
  if (!fs.existsSync(root)) fs.mkdirSync(root);
  return { clusters: [...clusters].sort(), removed: diff.removed.map((p) => `${DIST_DIR}/${p}`) };
}

function subdirectories(kustomization: string): string[] {
  let resources: unknown;
  try {
    resources = (parse(kustomization) as { resources?: unknown })?.resources;
  } catch {
    return [];
  }
  return Array.isArray(resources) ? resources.filter((r): r is string => typeof r === 'string' && !/\.ya?ml$/.test(r)) : [];
}
