import type { CommandModule } from 'yargs';
import { renderStatusJson, renderStatusText, STATUS_WARN_DAYS, status } from '../commands/status';
import { type GlobalArgs, workdirOf } from './common';
import type { Ctx } from './context';

interface StatusArgs extends GlobalArgs {
  readonly 'warn-days': number;
  readonly output: 'text' | 'json';
}

/** `meshgen status`: one table of the clusters, certificates, sealed reader tokens and dist/; exit 1 when something needs action. */
export function statusCommand(io: Ctx): CommandModule<GlobalArgs, StatusArgs> {
  return {
    command: 'status',
    describe:
      'One table: per cluster role, network, installer, CA and sealing-certificate expiry, sealed reader tokens, dist/ current (exit 1: action needed)',
    builder: (y) =>
      y
        .option('warn-days', { type: 'number', default: STATUS_WARN_DAYS, describe: 'Certificates expiring within this many days need action' })
        .option('output', { choices: ['text', 'json'] as const, default: 'text' as const, describe: 'Output format' })
        .example('$0 status', 'the table, and what needs action with the command to run')
        .example('$0 status --warn-days 90 --output json', 'for monitoring: JSON, certificates expiring within 90 days flagged') as never,
    handler: async (args) => {
      const workdir = workdirOf(args);
      const r = await status({ workdir, warnDays: args['warn-days'] });
      io.stdout.write(args.output === 'json' ? renderStatusJson(r) : renderStatusText(r));
      io.exitCode = r.actions.length > 0 ? 1 : 0;
    },
  };
}
