import type { CommandModule } from 'yargs';
import { DEFAULT_WARN_DAYS, validate } from '../commands/validate';
import { formatProblem } from '../errors';
import { type GlobalArgs, workdirOf } from './common';
import type { Ctx } from './context';

interface ValidateArgs extends GlobalArgs {
  readonly 'warn-days': number;
}

/** `meshgen validate`: check inputs, certificates and dist/ without changing anything; exit 1 on any problem. */
export function validateCommand(io: Ctx): CommandModule<GlobalArgs, ValidateArgs> {
  return {
    command: 'validate',
    describe: 'Check inputs, certificates (chain, key match, expiry) and dist/ (schemas, secrets, same as synth); exit 1 on any problem',
    builder: (y) =>
      y
        .option('warn-days', {
          type: 'number',
          default: DEFAULT_WARN_DAYS,
          describe: 'Report certificates (CAs and sealing certificates) that expire within this many days',
        })
        .example('$0 validate', 'check the mesh in the current directory: one line per problem, exit 1 if any')
        .example('$0 validate --warn-days 90', 'also report certificates that expire within the next 90 days')
        .example(
          'MESHGEN_CRDS=./my-crds $0 validate --workdir mesh',
          'check the manifests against other copies of the CRDs (default: the schemas meshgen ships)',
        ) as never,
    handler: async (args) => {
      const workdir = workdirOf(args);
      const warnDays = args['warn-days'];
      const r = await validate({ workdir, warnDays, crds: args.crds });
      for (const p of r.problems) io.stdout.write(`${formatProblem(p)}\n`);
      for (const w of r.warnings) io.stdout.write(`warning: ${w}\n`);
      for (const n of r.notes) io.stdout.write(`note: ${n}\n`);
      if (r.problems.length > 0) {
        io.stdout.write(`validate: ${r.problems.length} problem(s)\n`);
        io.exitCode = 1;
        return;
      }
      io.stdout.write(`validate: ok (checked ${r.stats.certificates} certificates, ${r.stats.manifests} manifests against schemas)\n`);
    },
  };
}
