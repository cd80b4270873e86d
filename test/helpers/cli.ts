import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli/main';

/** What a CLI run printed and returned. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `meshgen <args>` in-process with captured streams (and `stdin` as its input); `tty`: stderr claims to be a
 * terminal (progress is shown only there).
 */
export async function runCli(args: readonly string[], stdin = '', opts: { readonly tty?: boolean } = {}): Promise<CliResult> {
  const out = new PassThrough();
  const err = new PassThrough() as unknown as NodeJS.WriteStream & { isTTY?: boolean };
  if (opts.tty) err.isTTY = true;
  let stdout = '';
  let stderr = '';
  out.on('data', (c) => {
    stdout += c;
  });
  (err as unknown as PassThrough).on('data', (c) => {
    stderr += c;
  });
  const code = await main([...args], { stdout: out, stderr: err, stdin: Readable.from([Buffer.from(stdin)]) });
  return { code, stdout, stderr };
}
