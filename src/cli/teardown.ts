import type { CommandModule } from 'yargs';
import { teardown } from '../commands/teardown';
import { streamLogger } from '../log';
import { type GlobalArgs, workdirOf } from './common';
import type { Ctx } from './context';

/** `meshgen teardown`: empty the per-cluster output so the next commit prunes Istio. */
export function teardownCommand(io: Ctx): CommandModule<GlobalArgs, GlobalArgs> {
  return {
    command: 'teardown',
    describe: 'Empty dist/clusters/* so that, once committed, Argo CD / Flux prune Istio (keeps certs/ and topology.yaml)',
    builder: (y) => y.example('$0 teardown && git commit -am "Remove Istio" && git push', 'uninstall the mesh from every cluster') as never,
    handler: async (args) => {
      const r = await teardown(workdirOf(args), streamLogger(io.stderr));
      for (const f of r.removed) io.stdout.write(`removed  ${f}\n`);
      io.stdout.write(
        `${r.removed.length === 0 ? 'nothing more to remove' : `removed ${r.removed.length} file(s)`}; teardown.yaml marks the mesh as uninstalled. ` +
          'Commit and push: Argo CD / Flux then prune what meshgen installed. certs/, sealed/ and topology.yaml are kept; ' +
          'delete teardown.yaml and run synth to install the mesh again.\n',
      );
    },
  };
}
