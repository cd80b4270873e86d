import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../fs-util';
import { withWorkdirLock } from '../lock';
import type { Logger } from '../log';
import { TEARDOWN_FILE } from '../output/torn-down';
import { runSynth } from './synth';

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
 * Uninstalls the mesh through Git: writes `teardown.yaml` and synthesizes the torn-down tree (decided in `synth`: the installed tree's directories, with nothing to apply),
 * so that once committed Argo CD / Flux prune everything meshgen installed, while every Application / Kustomization
 * still finds its path. CI's `synth --check` agrees with it, since synth honours the marker.
 */
export async function teardown(workdir: string, log?: Logger): Promise<TeardownResult> {
  return withWorkdirLock(workdir, 'meshgen teardown', 'exclusive', async () => {
    const marker = path.join(workdir, TEARDOWN_FILE);
    const created = !fs.existsSync(marker);
    if (created) writeFileAtomic(marker, MARKER);
    try {
      const r = await runSynth({ workdir, log });
      return { removed: r.diff.removed };
    } catch (e) {
      // A teardown that fails changes nothing: the marker goes again.
      if (created) fs.rmSync(marker, { force: true });
      throw e;
    }
  });
}
