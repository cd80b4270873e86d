/**
 * Helpers of the rotation tests: the CLI (through `main` once it registers `rotate` / `rotate-root`, else through a
 * parser built the same way), openssl, and unsealing a cluster's `cacerts`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { parseAllDocuments } from 'yaml';
import yargs from 'yargs';
import type { Ctx } from '../../src/cli/main';
import { rotateCommand, rotateRootCommand } from '../../src/cli/rotate';
import { CheckFailed, InputError } from '../../src/errors';
import { type CliResult, runCli } from '../helpers/cli';
import { type SealedSecretObject, unsealSealedSecret } from '../helpers/unseal';
import { REPO_ROOT } from '../helpers/workdir';

export const OPENSSL = spawnSync('openssl', ['version'], { stdio: 'ignore' }).error === undefined;
export const NO_OPENSSL = OPENSSL ? false : 'openssl is not installed: certificate chains are not checked with `openssl verify`';

let registered: boolean | undefined;

/** Runs `meshgen <args>` in-process: through `main` when it knows `rotate`, else through an equivalent parser. */
export async function meshgen(args: readonly string[]): Promise<CliResult> {
  registered ??= (await runCli(['rotate-root', '--help'])).stdout.includes('--phase');
  if (registered || !['rotate', 'rotate-root'].includes(args[0])) return runCli(args);
  return runStandalone(args);
}

/** `main`'s parser and error reporting, reduced to the two rotation commands (until main.ts registers them). */
async function runStandalone(args: readonly string[]): Promise<CliResult> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c) => {
    stdout += c;
  });
  err.on('data', (c) => {
    stderr += c;
  });
  const ctx: Ctx = { stdout: out, stderr: err as unknown as NodeJS.WriteStream, stdin: process.stdin, exitCode: 0 };
  class Usage extends Error {}
  const parser = yargs([...args])
    .scriptName('meshgen')
    .option('workdir', { type: 'string', default: '.', global: true })
    .option('debug', { type: 'boolean', default: false, global: true })
    .command(rotateCommand(ctx))
    .command(rotateRootCommand(ctx))
    .demandCommand(1)
    .strict()
    .help()
    .version(false)
    .wrap(120)
    .exitProcess(false)
    .fail((msg, e) => {
      throw e ?? new Usage(msg);
    });
  let code: number;
  try {
    let help = '';
    await parser.parseAsync([...args], {}, (_e, _a, output) => {
      help = output;
    });
    if (help) stdout += `${help}\n`;
    code = ctx.exitCode;
  } catch (e) {
    if (e instanceof Usage) {
      stderr += `meshgen: ${e.message}\n`;
      code = 2;
    } else if (e instanceof InputError) {
      stderr += `error:\n${e.message}\n`;
      code = 2;
    } else if (e instanceof CheckFailed) {
      stderr += `${e.message}\n`;
      code = 1;
    } else throw e;
  }
  await new Promise((r) => setImmediate(r));
  return { code, stdout, stderr };
}

/** Whether synth wires the multi-root settings into the control plane (see the report: synth.ts / charts). */
export const SYNTH_WIRED = fs.readFileSync(path.join(REPO_ROOT, 'src', 'synth.ts'), 'utf8').includes('trustBundleFor');

/** `openssl verify -CAfile <caPem> [-untrusted <untrustedPem>] <certPem>`: ok and what openssl printed. */
export function opensslVerify(caPem: string, certPem: string, untrustedPem?: string): { ok: boolean; output: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-verify-'));
  try {
    const file = (name: string, text: string) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, text);
      return f;
    };
    const argv = ['verify', '-CAfile', file('ca.pem', caPem)];
    if (untrustedPem !== undefined) argv.push('-untrusted', file('untrusted.pem', untrustedPem));
    argv.push(file('cert.pem', certPem));
    const r = spawnSync('openssl', argv, { encoding: 'utf8' });
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The four files of a cluster's `cacerts` as its Sealed Secrets controller would decrypt them. */
export function unsealCacerts(workdir: string, cluster: string): Record<string, string> {
  const file = path.join(workdir, 'dist', 'clusters', cluster, 'secrets', 'cacerts.yaml');
  const doc = parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as SealedSecretObject | null)
    .find((o) => o?.kind === 'SealedSecret');
  if (!doc) throw new Error(`no SealedSecret in ${file}`);
  const key = fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'sealing-keys', `${cluster}.key`), 'utf8');
  const data = unsealSealedSecret(key, doc).data;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.toString('utf8')]));
}

/** `spec` of a cluster's control-plane IstioOperator. */
export function controlPlaneSpec(workdir: string, cluster: string): Record<string, any> {
  const file = path.join(workdir, 'dist', 'clusters', cluster, 'control-plane', 'control-plane.yaml');
  const doc = parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as { kind?: string; spec?: Record<string, any> } | null)
    .find((o) => o?.kind === 'IstioOperator');
  if (!doc?.spec) throw new Error(`no IstioOperator in ${file}`);
  return doc.spec;
}

/** The paths that differ between two {@link hashTree} results, by kind. */
export function treeDiff(before: Map<string, string>, after: Map<string, string>): { added: string[]; changed: string[]; removed: string[] } {
  const added = [...after.keys()].filter((k) => !before.has(k)).sort();
  const removed = [...before.keys()].filter((k) => !after.has(k)).sort();
  const changed = [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k)).sort();
  return { added, changed, removed };
}
