import type { Argv, CommandModule } from 'yargs';
import { readUpgradeStatus, renderUpgradeStatus, runUpgrade, type UpgradeEdit, type UpgradeRequest } from '../commands/upgrade';
import { InputError, type Problem } from '../errors';
import { TOPOLOGY_FILE } from '../topology/load';
import { type GlobalArgs, workdirOf } from './common';
import type { Ctx } from './context';

/** The phases named on the command line (`add` is `--to <version>`). */
const PHASES = ['tag', 'gateways', 'finish'] as const;

interface UpgradeArgs extends GlobalArgs {
  readonly phase?: (typeof PHASES)[number];
  readonly tag?: string;
  readonly to?: string;
  readonly revision?: string;
  readonly json: boolean;
}

/** `meshgen upgrade`: a canary upgrade of the Istio control plane, one topology.yaml change (and commit) per phase. */
export function upgradeCommand(io: Ctx): CommandModule<GlobalArgs, UpgradeArgs> {
  return {
    command: 'upgrade [phase] [tag]',
    describe:
      'Canary-upgrade Istio through revisions: --to <version>, then tag <tag>, gateways, finish (one synth + commit each); alone: where it stands',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .positional('phase', {
          type: 'string',
          choices: [...PHASES],
          describe: 'The phase to run; without it and --to, show where the upgrade stands',
        })
        .positional('tag', { type: 'string', describe: 'tag: the revision tag to point at the canary (created if new)' })
        .option('to', { type: 'string', describe: 'Add a canary revision running this Istio version (e.g. 1.30.3)' })
        .option('revision', { type: 'string', describe: 'With --to: the canary revision name (default: the version with dashes, 1-30-3)' })
        .option('json', { type: 'boolean', default: false, describe: 'Without a phase: print the status as JSON' })
        // Thrown as InputError: main's yargs fail handler rethrows it, so it exits 2 with this message.
        .check((args) => {
          checkUpgradeArgs(args as unknown as UpgradeArgs);
          return true;
        })
        .example('$0 upgrade --to 1.30.3 && npm run synth', '1. a canary revision 1-30-3 beside the current one (commit, wait)')
        .example('$0 upgrade tag default && npm run synth', '2. the default tag on the canary (commit, restart its namespaces); repeat per tag')
        .example('$0 upgrade gateways && npm run synth', '3. the east-west gateways on the canary (commit, wait)')
        .example('$0 upgrade finish && npm run synth', '4. the old revision removed (commit)')
        .example('$0 upgrade', 'show the revisions, tags, gateways, the phase and the next step') as never,
    handler: async (args) => {
      const workdir = workdirOf(args);
      if (args.phase === undefined && args.to === undefined) {
        const s = readUpgradeStatus(workdir);
        io.stdout.write(args.json ? `${JSON.stringify(s, null, 2)}\n` : renderUpgradeStatus(s));
        return;
      }
      const req: UpgradeRequest =
        args.to !== undefined
          ? { step: 'add', to: args.to, ...(args.revision !== undefined ? { revision: args.revision } : {}) }
          : args.phase === 'tag'
            ? { step: 'tag', tag: args.tag as string }
            : { step: args.phase as 'gateways' | 'finish' };
      const r = runUpgrade(workdir, req);
      for (const w of r.warnings) io.stderr.write(`warning: ${w}\n`);
      io.stdout.write(renderEdit(r));
    },
  };
}

/** What a phase changed, and what to do next. */
export function renderEdit(r: UpgradeEdit): string {
  const out: string[] = [];
  if (r.changed) out.push(`${TOPOLOGY_FILE}:`, ...r.changes.map((c) => `  ${c}`));
  else out.push(...r.changes, `${TOPOLOGY_FILE} is unchanged.`);
  if (r.changed) {
    out.push(
      'next: run `npm run synth`, review `meshgen plan`, commit:',
      '  npm run synth',
      '  meshgen plan',
      `  git add ${TOPOLOGY_FILE} dist && git commit -m "Istio upgrade: ${r.step}" && git push`,
    );
  }
  if (r.next) out.push(`then wait for the following before "${r.next}":`);
  else if (r.waitFor.length > 0) out.push('then wait for:');
  out.push(...r.waitFor.map((l) => `  ${l}`));
  return `${out.join('\n')}\n`;
}

/** Usage problems: --to (with --revision) or a phase, not both; tag needs its name; --json only for the status. */
function checkUpgradeArgs(a: UpgradeArgs): void {
  const problems: Problem[] = [];
  const fix =
    'run `meshgen upgrade --to <version>`, `meshgen upgrade tag <tag>`, `meshgen upgrade gateways`, `meshgen upgrade finish`, or `meshgen upgrade`';
  if (a.to !== undefined && a.phase !== undefined) {
    problems.push({ file: 'command line', path: '--to', message: `cannot be used with the phase "${a.phase}"`, fix });
  }
  if (a.revision !== undefined && a.to === undefined) {
    problems.push({
      file: 'command line',
      path: '--revision',
      message: 'names the canary of --to, which is not given',
      fix: 'e.g. meshgen upgrade --to 1.30.3 --revision 1-30-3',
    });
  }
  if (a.phase === 'tag' && (a.tag === undefined || String(a.tag) === '')) {
    problems.push({ file: 'command line', path: 'tag', message: 'names no tag', fix: 'e.g. meshgen upgrade tag default' });
  }
  if (a.tag !== undefined && a.phase !== 'tag') {
    problems.push({ file: 'command line', path: String(a.tag), message: `is an unexpected argument${a.phase ? ` after "${a.phase}"` : ''}`, fix });
  }
  if (a.json && (a.phase !== undefined || a.to !== undefined)) {
    problems.push({ file: 'command line', path: '--json', message: 'prints the status only', fix: 'run `meshgen upgrade --json` without a phase' });
  }
  if (a.to !== undefined && (typeof a.to !== 'string' || a.to.trim() === '')) {
    problems.push({ file: 'command line', path: '--to', message: 'needs an Istio version', fix: 'e.g. --to 1.30.3' });
  }
  if (problems.length > 0) throw new InputError(problems);
}
