import * as fs from 'node:fs';
import * as path from 'node:path';

/** The meshgen package this code runs from. */
export interface MeshgenPackage {
  /** The directory holding meshgen's package.json (the checkout, or node_modules/meshgen). */
  readonly root: string;
  readonly version: string;
}

let cached: MeshgenPackage | undefined;

/**
 * Finds meshgen's own package.json: the nearest ancestor of this file whose package.json is named `meshgen` (this
 * file runs from `src/` under tsx and from `lib/src/` once compiled).
 */
export function meshgenPackage(): MeshgenPackage {
  if (cached) return cached;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = readPackageJson(dir);
    if (pkg?.name === 'meshgen') {
      cached = { root: dir, version: String(pkg.version ?? '0.0.0') };
      return cached;
    }
    if (path.dirname(dir) === dir) throw new Error(`no package.json named meshgen above ${__dirname}`);
  }
}

/** The parsed package.json of `dir`, or undefined when there is none (or it is not JSON). */
export function readPackageJson(dir: string): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Whether `dir` is a meshgen checkout (its package.json is meshgen's): there, the work directory is the bundled example. */
export function isMeshgenCheckout(dir: string): boolean {
  return readPackageJson(dir)?.name === 'meshgen';
}
