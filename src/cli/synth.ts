import type { CommandModule } from 'yargs';
import { synth } from '../commands/synth';
import { streamLogger } from '../log';
import { isClean } from '../output/tree';
import { checkCaOptions, type GlobalArgs, workdirOf } from './common';
import type { Ctx } from './context';

interface SynthArgs extends GlobalArgs {
  readonly check: boolean;
  readonly frozen: boolean;
  readonly strict: boolean;
  readonly 'ca-key-size': number;
  readonly 'ca-days': number;
}

/** `meshgen synth`: validate inputs, create missing intermediates, seal what changed, write dist/. */
export function synthCommand(io: Ctx): CommandModule<GlobalArgs, SynthArgs> {
  return {
    command: 'synth',
    describe: 'Write dist/ (per-cluster manifests) from topology.yaml, base.yaml and certs/',
    builder: (y) =>
      y
        .option('check', { type: 'boolean', default: false, describe: 'Write nothing; exit 1 and list the files that would change' })
        .option('frozen', { type: 'boolean', default: false, describe: 'Never create keys or seal; fail if something needs it (CI)' })
        .option('strict', { type: 'boolean', default: false, describe: 'Fail when remote secrets are omitted because a token is not sealed yet' })
        .option('ca-key-size', {
          type: 'number',
          default: 4096,
          describe: 'RSA key size of intermediate CAs created by this run (pki.keyAlgorithm rsa-4096)',
        })
        .option('ca-days', { type: 'number', default: 3650, describe: 'Validity (days) of intermediate CAs created by this run' })
        .example('$0 synth', 'write dist/ for the mesh in the current directory')
        .example('$0 synth --check --frozen', 'in CI: fail if the committed dist/ is stale (needs no private key)') as never,
    handler: async (args) => {
      const workdir = workdirOf(args);
      checkCaOptions({ 'ca-key-size': args['ca-key-size'], 'ca-days': args['ca-days'] });
      const log = streamLogger(io.stderr);
      const result = await synth({
        workdir,
        check: args.check,
        frozen: args.frozen,
        strict: args.strict,
        caKeySize: args['ca-key-size'],
        caDays: args['ca-days'],
        log,
      }).finally(() => log.progress('')); // a run that fails mid-way leaves no progress line before its error
      const { added, changed, removed } = result.diff;
      if (args.check) {
        if (isClean(result.diff)) {
          io.stdout.write('dist/ and sealed/ are up to date\n');
          return;
        }
        io.stdout.write('these files would change (run `npm run synth` and commit the result):\n');
        for (const f of added) io.stdout.write(`  added    ${f}\n`);
        for (const f of changed) io.stdout.write(`  changed  ${f}\n`);
        for (const f of removed) io.stdout.write(`  removed  ${f}\n`);
        io.exitCode = 1;
        return;
      }
      const n = added.length + changed.length + removed.length;
      io.stdout.write(
        n === 0
          ? 'no changes\n'
          : `wrote ${added.length} new, ${changed.length} changed, removed ${removed.length} file(s)${result.sealed ? `; sealed ${result.sealed} value(s)` : ''}\n`,
      );
    },
  };
}
