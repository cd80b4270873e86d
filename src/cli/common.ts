import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';

/** Options every command has. */
export interface GlobalArgs {
  readonly workdir: string;
  readonly debug: boolean;
  /** CRD directory for schema validation (MESHGEN_CRDS). */
  readonly crds?: string;
}

/** Resolves --workdir and checks that it is a directory. */
export function workdirOf(args: GlobalArgs): string {
  if (typeof args.workdir !== 'string' || args.workdir === '') {
    throw new InputError({
      file: 'command line',
      path: '--workdir',
      message: Array.isArray(args.workdir) ? 'is given more than once' : 'is empty',
      fix: 'pass one directory (--workdir . for the current directory), or leave the option out',
    });
  }
  const dir = path.resolve(args.workdir);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new InputError({ file: args.workdir, message: '--workdir does not exist', fix: 'pass an existing directory (or create it first)' });
  }
  if (!st.isDirectory()) throw new InputError({ file: args.workdir, message: '--workdir is not a directory', fix: 'pass a directory' });
  return dir;
}

/** Checks the numeric CA options of prep and synth (`--key-size`, `--days`...). */
export function checkCaOptions(flags: Record<string, number>): void {
  const problems = [];
  for (const [flag, v] of Object.entries(flags)) {
    const isSize = flag.includes('key-size');
    const ok = isSize ? Number.isInteger(v) && v >= 2048 && v <= 16384 : Number.isInteger(v) && v >= 1 && v <= 36500;
    if (!ok) {
      problems.push({
        file: 'command line',
        path: `--${flag}`,
        message: `${JSON.stringify(v)} is not supported`,
        fix: isSize ? 'use an RSA key size from 2048 to 16384 (default 4096)' : 'use a number of days from 1 to 36500 (default 3650)',
      });
    }
  }
  if (problems.length > 0) throw new InputError(problems);
}

/**
 * The mesh ID and organisation of a new root CA (`prep`, `init`): the options, else `MESH_ID` and `ORG_NAME` as the
 * original setup-mesh.sh read them; missing ones and bad `--key-size`/`--days` are one input error.
 */
export function rootCaArgsOf(args: { readonly 'mesh-id'?: string; readonly org?: string; readonly 'key-size': number; readonly days: number }): {
  meshId: string;
  org: string;
} {
  const meshId = args['mesh-id'] ?? process.env.MESH_ID;
  const org = args.org ?? process.env.ORG_NAME;
  const missing = [
    ...(meshId ? [] : [{ file: 'command line', message: 'the mesh ID is missing', fix: 'pass --mesh-id <id> or set MESH_ID' }]),
    ...(org ? [] : [{ file: 'command line', message: 'the organisation is missing', fix: 'pass --org <name> or set ORG_NAME' }]),
  ];
  if (missing.length > 0) throw new InputError(missing);
  checkCaOptions({ 'key-size': args['key-size'], days: args.days });
  return { meshId: meshId as string, org: org as string };
}
