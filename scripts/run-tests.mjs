#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's test runner. Extra arguments are passed on,
// e.g. `npm test -- --test-name-pattern=sealing` or a list of files.
//
// TypeScript is loaded by test/helpers/ts-loader.cjs (esbuild, as tsx, with a cache; about 0.3 s of a core less per
// test file than tsx); MESHGEN_TEST_LOADER=tsx loads it with tsx instead.
//
// Temporary files go to a directory of this run on tmpfs (/dev/shm) when the machine has one and TMPDIR is not set:
// the tests copy, write and delete some 20 000 files in work directories, several times faster in memory than on a
// disk. The directory is removed after the run (with whatever a test left in it).
//
// The default run is the quick one (about a minute on two cores): fixed seeds, small random meshes, a few kills in the
// crash test. MESHGEN_SOAK=1 runs the long one: the property tests with a random (printed) seed, more runs and bigger
// meshes, and the crash test's full count of kills. Each test file documents its own knobs (MESHGEN_FC_*, MESHGEN_CRASH_*).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const files = args.filter((a) => a.endsWith('.ts'));
const flags = args.filter((a) => !a.endsWith('.ts'));
if (files.length === 0) {
  const walk = (dir) => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) {
        if (e !== 'fixtures') walk(p);
      } else if (e.endsWith('.test.ts')) files.push(p);
    }
  };
  walk('test');
  // Node 20's test runner sorts the files it is given by path and runs them in that order (so an order chosen here,
  // e.g. the slowest first, is lost); sorted here too, to list them as they run.
  files.sort();
}

const env = { ...process.env };
const soak = env.MESHGEN_SOAK === '1';
// SIGKILLs of the crash test's main scenario (its own default, 25, is the soak run).
if (!soak) env.MESHGEN_CRASH_RUNS ??= '4';
console.log(`run-tests: ${soak ? 'soak run (MESHGEN_SOAK=1)' : 'quick run (MESHGEN_SOAK=1 for the long one)'}, ${files.length} file(s)`);

let tmp;
if (env.TMPDIR === undefined && process.platform === 'linux') {
  try {
    tmp = mkdtempSync('/dev/shm/meshgen-test-');
    env.TMPDIR = tmp;
  } catch {
    // no tmpfs at /dev/shm: the default temporary directory
  }
}
const loaderFile = fileURLToPath(new URL('../test/helpers/ts-loader.cjs', import.meta.url));
// Fill the loader's cache in one process first: a clean clone then does not transpile the shared modules in every test
// file's process, each loading esbuild (about 3 s of a two-core run).
if (env.MESHGEN_TEST_LOADER !== 'tsx') createRequire(import.meta.url)(loaderFile).warm(['src', 'test', 'imports']);
const loader = env.MESHGEN_TEST_LOADER === 'tsx' ? ['--import', 'tsx'] : ['--require', loaderFile];
const runner = spawn(process.execPath, [...loader, '--test', '--test-concurrency=2', ...flags, ...files], { stdio: 'inherit', env });
// A signal (Ctrl-C) is passed on to the runner; the temporary directory is removed once it has stopped.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => runner.kill(signal));
runner.on('exit', (code) => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  process.exit(code ?? 1);
});
