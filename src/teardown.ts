import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from './fs-util';
import type { Logger } from './log';
import { TEARDOWN_FILE } from './output/torn-down';
import { recoverTree } from './output/tree';
import { DIST_DIR, synth } from './synth';

const MARKER = `# meshgen teardown: this mesh is uninstalled. While this file exists, synth keeps dist/clusters/* empty (only their
# kustomization.yaml files), and the chart Applications / HelmReleases out, so Argo CD and Flux prune what meshgen
# installed. certs/, sealed/, topology.yaml and base.yaml are kept. To install the mesh again: delete this file and
# run \`npm run synth\`.
`;

/** What teardown did. */
export interface TeardownResult {
  /** Files removed, relative to the work directory. */
  readonly removed: string[];
}

/**
 * Uninstalls the mesh through Git: writes `teardown.yaml` and synthesizes the torn-down tree (see `tornDownFile`),
 * so that once committed Argo CD / Flux prune everything meshgen installed, while every Application / Kustomization
 * still finds its path. CI's `synth --check` agrees with it, since synth honours the marker.
 */
export async function teardown(workdir: string, log?: Logger): Promise<TeardownResult> {
  recoverTree(path.join(workdir, DIST_DIR)); // an interrupted synth first: tear down the tree that is really there
  const marker = path.join(workdir, TEARDOWN_FILE);
  if (!fs.existsSync(marker)) writeFileAtomic(marker, MARKER);
  const r = await synth({ workdir, log });
  return { removed: r.diff.removed };
}
