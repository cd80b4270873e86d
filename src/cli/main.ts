import yargs from 'yargs';
import { CheckFailed, clip, InputError, type Problem, show } from '../errors';
import { ioReason, isWriteError } from '../fs-util';
import { type Ctx, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_INTERNAL, EXIT_OK, type Io } from './context';
import { discoverCommand } from './discover';
import { exportCaCommand } from './export-ca';
import { initCommand } from './init';
import { planCommand } from './plan';
import { prepCommand } from './prep';
import { rotateCommand, rotateRootCommand } from './rotate';
import { sealTokenCommand } from './seal-token';
import { statusCommand } from './status';
import { synthCommand } from './synth';
import { teardownCommand } from './teardown';
import { upgradeCommand } from './upgrade';
import { validateCommand } from './validate';

export { type Ctx, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_INTERNAL, EXIT_OK, type Io } from './context';

/**
 * Runs the meshgen CLI and resolves to its exit code. The one place that turns errors into messages:
 * bad input → exit 2 with one line per problem (stack trace only with --debug), --check / --frozen /
 * validation failures → exit 1.
 */
export async function main(
  argv: readonly string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
): Promise<number> {
  const debug = argv.includes('--debug');
  const ctx: Ctx = { stdout: io.stdout, stderr: io.stderr, stdin: io.stdin, exitCode: EXIT_OK };
  const parser = yargs([...argv])
    .scriptName('meshgen')
    .usage('$0 <command> [options]\n\nTurns topology.yaml into a GitOps repository for an Istio multicluster mesh.')
    .option('workdir', {
      type: 'string',
      default: '.',
      describe: 'Work directory holding topology.yaml, base.yaml, certs/ (default: current directory)',
      global: true,
    })
    .option('debug', { type: 'boolean', default: false, describe: 'Print stack traces of errors', global: true })
    .option('crds', {
      type: 'string',
      default: process.env.MESHGEN_CRDS,
      defaultDescription: '$MESHGEN_CRDS, else the schemas/crds/ meshgen ships',
      describe: 'Directory of CRD YAML used to validate manifests',
      global: true,
      hidden: true,
    })
    .command(initCommand(ctx))
    .command(prepCommand(ctx))
    .command(discoverCommand(ctx))
    .command(synthCommand(ctx))
    .command(sealTokenCommand(ctx))
    .command(exportCaCommand(ctx))
    .command(rotateCommand(ctx))
    .command(rotateRootCommand(ctx))
    .command(upgradeCommand(ctx))
    .command(teardownCommand(ctx))
    .command(validateCommand(ctx))
    .command(planCommand(ctx))
    .command(statusCommand(ctx))
    // Before validation and before any handler: an option given twice (yargs makes an array of it) or given an empty
    // value is refused here, for every command.
    .middleware(
      // yargs passes its instance as the second argument, which @types/yargs leaves out.
      ((args: Record<string, unknown>, y: { getOptions(): { string: string[]; number: string[]; array: string[] } }) =>
        checkSingleValues(argv, args, y.getOptions())) as never,
      true,
    )
    .demandCommand(1, 'Name a command; see meshgen --help')
    .recommendCommands()
    .strictCommands()
    // No .env('MESHGEN'): with .strict() any unrelated MESHGEN_* variable would become an unknown option.
    .strict()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(120, process.stdout.columns ?? 120))
    .exitProcess(false)
    .fail((msg, err) => {
      // Throwing stops yargs before it runs the command: a usage error must not do half of what was asked.
      // yargs' recommendCommands says only "Did you mean X?": name what was not a command.
      const typed = argv.find((a, i) => !a.startsWith('-') && !(i > 0 && /^--[^=]+$/.test(argv[i - 1]) && argv[i - 1] !== '--debug'));
      throw (
        err ??
        new UsageError(
          /^Did you mean/.test(msg) && typed ? `unknown command "${typed}"; ${msg.replace(/^Did you mean (\S+)\?$/, 'did you mean "$1"?')}` : msg,
        )
      );
    });
  try {
    // With a callback yargs hands --help and usage output over instead of printing it to the process' stdout.
    let helpText = '';
    await parser.parseAsync([...argv], {}, (_err, _args, output) => {
      helpText = output;
    });
    if (helpText) io.stdout.write(`${helpText}\n`);
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`meshgen: ${e.message}\nRun "meshgen --help" for usage.\n`);
      return EXIT_BAD_INPUT;
    }
    return report(e, io, debug);
  }
}

/** A usage error (unknown command or option, missing argument): exit 2 with the message and a pointer to --help. */
class UsageError extends Error {}

function report(e: unknown, io: Io, debug: boolean): number {
  if (e instanceof InputError) {
    io.stderr.write(`${e.problems.length === 1 ? 'error' : `${e.problems.length} errors`}:\n`);
    for (const line of e.message.split('\n')) io.stderr.write(`  ${line}\n`);
    if (debug) io.stderr.write(`${e.stack}\n`);
    return EXIT_BAD_INPUT;
  }
  if (e instanceof CheckFailed) {
    io.stderr.write(`${e.message}\n`);
    if (debug) io.stderr.write(`${e.stack}\n`);
    return EXIT_CHECK_FAILED;
  }
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && err.syscall) {
    io.stderr.write(`error:\n  ${describeIoError(err)}\n`);
    if (debug) io.stderr.write(`${err.stack}\n`);
    return EXIT_BAD_INPUT;
  }
  io.stderr.write(`meshgen: internal error: ${err?.message ?? String(e)}\n`);
  io.stderr.write(debug ? `${err?.stack}\n` : 'Run again with --debug for the stack trace, and please report it.\n');
  return EXIT_INTERNAL;
}

/** System calls that change the file system: an error in one of them happened while writing. */
const WRITING = new Set([
  'write',
  'writev',
  'rename',
  'mkdir',
  'rmdir',
  'unlink',
  'rm',
  'chmod',
  'fchmod',
  'copyfile',
  'link',
  'symlink',
  'ftruncate',
  'fsync',
  'fdatasync',
  'utime',
  'close',
]);

/**
 * One line for an I/O error that is not a bug: which file, reading or writing, the reason in words (disk full,
 * read-only file system, permission denied) and what to do.
 */
export function describeIoError(err: NodeJS.ErrnoException): string {
  const file = err.path ?? (err as { dest?: string }).dest;
  const writing =
    isWriteError(err) || WRITING.has(err.syscall ?? '') || (err.syscall === 'open' && ['ENOSPC', 'EROFS', 'EDQUOT'].includes(err.code ?? ''));
  let fix: string;
  switch (err.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      fix =
        'free some disk space (or use a work directory on another file system) and run again; the files meshgen writes are replaced whole or not at all';
      break;
    case 'EROFS':
      fix = 'run meshgen where the work directory is writable (it is on a read-only mount or file system)';
      break;
    case 'EACCES':
    case 'EPERM':
      fix = `check the permissions (and owner) of ${file === undefined ? 'the work directory' : 'the file and its directory'}`;
      break;
    default:
      fix = 'check the path and its permissions';
  }
  const where = file === undefined ? 'the work directory' : clip(file);
  return `${where}: cannot ${writing ? 'write' : 'read'} (${ioReason(err.code)}; ${err.syscall} failed); fix: ${fix}`;
}

/**
 * Refuses a single-value option that was given more than once (yargs turns it into an array, which no command
 * expects) or given an empty value (`--workdir ''` is not the current directory).
 */
function checkSingleValues(
  argv: readonly string[],
  args: Record<string, unknown>,
  options: { string: string[]; number: string[]; array: string[] },
): void {
  const given = new Set<string>();
  // Options declared repeatable (rotate --cluster) take several values.
  const repeatable = new Set(options.array);
  const valued = new Set([...options.string, ...options.number].filter((o) => !repeatable.has(o)));
  const problems: Problem[] = [];
  for (const [i, a] of argv.entries()) {
    if (a === '--') break;
    const m = /^--?([^=]+)(=?)/.exec(a);
    if (!m) continue;
    given.add(m[1]);
    // `--workdir` at the end or before another option: yargs would quietly use the default.
    const next = argv[i + 1];
    if (m[2] === '' && valued.has(m[1]) && (next === undefined || /^--./.test(next))) {
      problems.push({
        file: 'command line',
        path: `--${m[1]}`,
        message: 'has no value',
        fix: `pass a value: --${m[1]} <value>, or leave the option out`,
      });
    }
  }
  for (const [key, value] of Object.entries(args)) {
    if (key === '_' || key === '$0' || !given.has(key) || repeatable.has(key) || problems.some((p) => p.path === `--${key}`)) continue;
    if (Array.isArray(value)) {
      problems.push({
        file: 'command line',
        path: `--${key}`,
        message: `is given ${value.length} times (${value.slice(0, 3).map(show).join(', ')}${value.length > 3 ? ', ...' : ''}); it takes one value`,
        fix: `pass --${key} once`,
      });
    } else if (value === '') {
      problems.push({
        file: 'command line',
        path: `--${key}`,
        message: 'is empty',
        fix:
          key === 'workdir'
            ? 'pass a directory (--workdir . for the current directory), or leave the option out'
            : `pass a value to --${key}, or leave the option out`,
      });
    }
  }
  if (problems.length > 0) throw new InputError(problems);
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
