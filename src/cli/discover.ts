import type { CommandModule } from 'yargs';
import { discover } from '../commands/discover';
import { withWorkdirLock } from '../lock';
import { TOPOLOGY_FILE } from '../topology/load';
import { type GlobalArgs, workdirOf } from './common';
import type { Ctx } from './context';

/** Options of `meshgen discover`. */
export interface DiscoverArgs extends GlobalArgs {
  readonly kubeconfig?: string;
  readonly 'dry-run': boolean;
}

/** `meshgen discover`: copy each context's cluster name, API server and CA from the kubeconfig into topology.yaml. */
export function discoverCommand(io: Ctx): CommandModule<GlobalArgs, DiscoverArgs> {
  return {
    command: 'discover',
    describe: "Fill each context's cluster, server and certificateAuthorityData in topology.yaml from the kubeconfig (never contacts a cluster)",
    builder: (y) =>
      y
        .option('kubeconfig', {
          type: 'string',
          describe: 'Kubeconfig file to read (default: the files of KUBECONFIG, else ~/.kube/config, as kubectl)',
        })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Write nothing; print what would change as a diff of topology.yaml' })
        .example('$0 discover', 'copy cluster names, API servers and CAs from the kubeconfig kubectl uses')
        .example('$0 discover --dry-run', 'show the changes as a diff, without writing topology.yaml')
        .example('KUBECONFIG=~/.kube/east.yaml:~/.kube/west.yaml $0 discover', 'merge several kubeconfig files as kubectl does (the first wins)')
        .example('$0 discover --kubeconfig ./kubeconfig.yaml', 'read one given file') as never,
    handler: async (args) => {
      const workdir = workdirOf(args);
      const dryRun = args['dry-run'];
      const r = withWorkdirLock(workdir, 'meshgen discover', dryRun ? 'shared' : 'exclusive', () =>
        discover({ workdir, kubeconfig: args.kubeconfig, env: process.env, dryRun }),
      );
      for (const c of r.changes) io.stdout.write(`${c.description}\n`);
      if (r.diff !== undefined) io.stdout.write(r.diff);
      for (const w of r.warnings) io.stderr.write(`warning: ${w}\n`);
      for (const n of r.notes) io.stderr.write(`note: ${n}\n`);
      if (r.changes.length === 0) {
        io.stdout.write(`nothing to change in ${TOPOLOGY_FILE}\n`);
        return;
      }
      const contexts = new Set(r.changes.map((c) => c.context)).size;
      const what = `${r.changes.length} change${r.changes.length === 1 ? '' : 's'} in ${contexts} context${contexts === 1 ? '' : 's'}`;
      if (r.diff !== undefined) {
        io.stdout.write(`--dry-run: ${what}; ${TOPOLOGY_FILE} not written\n`);
        return;
      }
      io.stdout.write(`updated ${TOPOLOGY_FILE}: ${what} (from ${r.kubeconfigs.join(', ')})\n`);
    },
  };
}
