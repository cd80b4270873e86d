import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';

/** Options every command has. */
export interface GlobalArgs {
  readonly workdir: string;
  readonly debug: boolean;
}

/** Resolves --workdir and checks that it is a directory. */
export function workdirOf(args: GlobalArgs): string {
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
