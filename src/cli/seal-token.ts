import * as fs from 'node:fs';
import type { CommandModule } from 'yargs';
import { InputError } from '../errors';
import { sealToken } from '../seal-token';
import { type GlobalArgs, workdirOf } from './common';
import type { Ctx } from './main';

interface SealTokenArgs extends GlobalArgs {
  readonly context: string;
  readonly 'token-file'?: string;
}

/** `meshgen seal-token`: seal a cluster's reader token into its peers' remote secrets. */
export function sealTokenCommand(io: Ctx): CommandModule<GlobalArgs, SealTokenArgs> {
  return {
    command: 'seal-token',
    describe: "Seal a cluster's reader-service-account token into the remote secret every primary holds for it",
    builder: (y) =>
      y
        .option('context', { type: 'string', demandOption: true, describe: 'Kube context (key under contexts: in topology.yaml)' })
        .option('token-file', { type: 'string', describe: 'File holding the token (default: read stdin)' })
        .example(
          "kubectl --context ctx-1 -n istio-system get secret istio-reader-service-account-istio-remote-secret-token -o jsonpath='{.data.token}' | base64 -d | $0 seal-token --context ctx-1",
          'seal the token that cluster minted',
        )
        .example('$0 seal-token --context ctx-1 --token-file ctx-1.token', 'the same, from a file') as never,
    handler: async (args) => {
      const workdir = workdirOf(args);
      let token: string;
      let source: string;
      if (args['token-file'] !== undefined) {
        source = args['token-file'];
        try {
          token = fs.readFileSync(source, 'utf8');
        } catch (e) {
          throw new InputError({
            file: source,
            message: `cannot be read (${(e as NodeJS.ErrnoException).code})`,
            fix: 'pass an existing file to --token-file',
          });
        }
      } else {
        source = 'stdin';
        if ((io.stdin as NodeJS.ReadStream).isTTY) {
          throw new InputError({
            file: 'stdin',
            message: 'no token given (stdin is a terminal)',
            fix: 'pipe the token in, or pass --token-file <file>',
          });
        }
        token = await readAll(io.stdin);
      }
      const r = sealToken({ workdir, context: args.context, token, source });
      if (r.holders.length === 0) {
        io.stdout.write(`no primary holds a remote secret for ${r.cluster}; the token is kept for later\n`);
        return;
      }
      io.stdout.write(
        `${r.sealed === 0 ? 'already sealed' : `sealed ${r.sealed} value(s)`}: istio-remote-secret-${r.cluster} on ${r.holders.join(', ')}\n` +
          'next: run `npm run synth` and commit dist/ and sealed/\n',
      );
    },
  };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
