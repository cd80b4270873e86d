import type { CommandModule } from 'yargs';
import { sealTokens, type TokenInput, tokensOfDirectory } from '../commands/seal-token';
import { InputError } from '../errors';
import { READ_LIMITS, readBounded, readStreamBounded } from '../fs-util';
import { streamLogger } from '../log';
import { type GlobalArgs, workdirOf } from './common';
import type { Ctx } from './context';

interface SealTokenArgs extends GlobalArgs {
  readonly context?: string;
  readonly 'token-file'?: string;
  readonly 'token-dir'?: string;
}

/** `meshgen seal-token`: seal a cluster's reader token into its peers' remote secrets. */
export function sealTokenCommand(io: Ctx): CommandModule<GlobalArgs, SealTokenArgs> {
  return {
    command: 'seal-token',
    describe: "Seal a cluster's reader-service-account token into the remote secret every primary holds for it",
    builder: (y) =>
      y
        .option('context', { type: 'string', describe: 'Kube context (key under contexts: in topology.yaml)' })
        .option('token-file', { type: 'string', describe: 'File holding the token (default: read stdin)' })
        .option('token-dir', { type: 'string', describe: 'Seal many at once: a directory of token files, each named after its context' })
        .example(
          "kubectl --context ctx-1 -n istio-system get secret istio-reader-service-account-istio-remote-secret-token -o jsonpath='{.data.token}' | base64 -d | $0 seal-token --context ctx-1",
          'seal the token that cluster minted',
        )
        .example('$0 seal-token --context ctx-1 --token-file ctx-1.token', 'the same, from a file')
        .example('$0 seal-token --token-dir tokens/', 'seal the tokens of many clusters in one run (tokens/<context>[.token])') as never,
    handler: async (args) => {
      const workdir = workdirOf(args);
      const dir = args['token-dir'];
      if (dir !== undefined && (args.context !== undefined || args['token-file'] !== undefined)) {
        throw new InputError({
          file: 'command line',
          message: '--token-dir cannot be combined with --context or --token-file',
          fix: 'pass either --token-dir, or --context with --token-file/stdin',
        });
      }
      if (dir === undefined && args.context === undefined) {
        throw new InputError({
          file: 'command line',
          message: '--context is missing',
          fix: 'pass --context <kube context> (or --token-dir <dir> for many)',
        });
      }
      let tokens: TokenInput[];
      if (dir !== undefined) tokens = tokensOfDirectory(dir);
      else if (args['token-file'] !== undefined) {
        const source = args['token-file'];
        const fix = `pass the file holding the token (a regular file of at most ${READ_LIMITS.token / 1024} KiB) to --token-file`;
        try {
          tokens = [
            {
              context: args.context as string,
              token: readBounded(source, { limit: READ_LIMITS.token, display: source, what: 'the token file', fix }),
              source,
            },
          ];
        } catch (e) {
          if (e instanceof InputError) throw e;
          throw new InputError({
            file: source,
            message: `cannot be read (${(e as NodeJS.ErrnoException).code})`,
            fix: 'pass an existing file to --token-file',
          });
        }
      } else {
        if ((io.stdin as NodeJS.ReadStream).isTTY) {
          throw new InputError({
            file: 'stdin',
            message: 'no token given (stdin is a terminal)',
            fix: 'pipe the token in, or pass --token-file <file>',
          });
        }
        const token = await readStreamBounded(io.stdin, {
          limit: READ_LIMITS.token,
          display: 'stdin',
          what: 'the token read from stdin',
          fix: 'pipe in the decoded reader token only (`... -o jsonpath={.data.token} | base64 -d`)',
        });
        tokens = [{ context: args.context as string, token, source: 'stdin' }];
      }
      const log = streamLogger(io.stderr);
      let results: ReturnType<typeof sealTokens>;
      try {
        results = sealTokens({ workdir, tokens, log });
      } finally {
        log.progress('');
      }
      for (const r of results) {
        io.stdout.write(
          r.holders.length === 0
            ? `no primary holds a remote secret for ${r.cluster}; the token is kept for later\n`
            : `${r.sealed === 0 ? 'already sealed' : `sealed ${r.sealed} value(s)`}: istio-remote-secret-${r.cluster} on ${r.holders.join(', ')}\n`,
        );
      }
      io.stdout.write('next: run `npm run synth` and commit dist/ and sealed/\n');
    },
  };
}
