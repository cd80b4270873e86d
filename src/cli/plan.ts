import type { CommandModule } from 'yargs';
import { plan } from '../plan';
import { renderPlanJson, renderPlanMarkdown, renderPlanText } from '../plan/render';
import { type GlobalArgs, workdirOf } from './common';
import type { Ctx } from './context';

interface PlanArgs extends GlobalArgs {
  readonly against?: string;
  readonly 'against-dir'?: string;
  readonly output: 'text' | 'json' | 'markdown';
}

/** `meshgen plan`: what a synth would change, per cluster and in Istio's terms; exit 0 no change, 1 changes. */
export function planCommand(io: Ctx): CommandModule<GlobalArgs, PlanArgs> {
  return {
    command: 'plan',
    describe: 'Synthesize in memory and show, per cluster, what changes against the committed dist/ (exit 0: none, 1: changes)',
    builder: (y) =>
      y
        .option('against', { type: 'string', describe: 'Compare with the dist/ committed at this git revision', defaultDescription: 'HEAD' })
        .option('against-dir', { type: 'string', describe: 'Compare with this dist/ directory instead of a git revision' })
        .conflicts('against', 'against-dir')
        .option('output', { choices: ['text', 'json', 'markdown'] as const, default: 'text' as const, describe: 'Output format' })
        .example('$0 plan', 'what the change does to each cluster, against the dist/ committed at HEAD')
        .example('$0 plan --against origin/main --output markdown', 'a pull-request comment')
        .example('$0 plan --against-dir /tmp/old-dist --output json', 'for bots: compare with a copy of dist/') as never,
    handler: async (args) => {
      const workdir = workdirOf(args);
      const r = await plan({ workdir, against: args.against, againstDir: args['against-dir'] });
      if (args.output !== 'markdown') {
        for (const w of r.warnings) io.stderr.write(`warning: ${w}\n`);
      }
      for (const n of r.against.notes) io.stderr.write(`note: ${n}\n`);
      io.stdout.write(args.output === 'json' ? renderPlanJson(r) : args.output === 'markdown' ? renderPlanMarkdown(r) : renderPlanText(r));
      io.exitCode = r.summary.changed ? 1 : 0;
    },
  };
}
