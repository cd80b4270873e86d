import type { CommandModule } from 'yargs';
import { teardown } from '../teardown';
import { type GlobalArgs, workdirOf } from './common';
import type { Ctx } from './main';

/** `meshgen teardown`: empty the per-cluster output so the next commit prunes Istio. */
export function teardownCommand(io: Ctx): CommandModule<GlobalArgs, GlobalArgs> {
  return {
    command: 'teardown',
    describe: 'Empty dist/clusters/* so that, once committed, Argo CD / Flux prune Istio (keeps certs/ and topology.yaml)',
    builder: (y) => y.example('$0 teardown && git commit -am "Remove Istio" && git push', 'uninstall the mesh from every cluster') as never,
    handler: async (args) => {
      const r = teardown(workdirOf(args));
      if (r.removed.length === 0) {
        io.stdout.write('nothing to remove\n');
        return;
      }
      for (const f of r.removed) io.stdout.write(`removed  ${f}\n`);
      io.stdout.write(
        `emptied ${r.clusters.length} cluster director${r.clusters.length === 1 ? 'y' : 'ies'} (${r.clusters.join(', ')}); ` +
          'commit and push: Argo CD / Flux then prune what meshgen installed. certs/, sealed/ and topology.yaml are kept.\n',
      );
    },
  };
}
