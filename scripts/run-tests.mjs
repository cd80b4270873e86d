#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's test runner (through tsx). Extra arguments are passed on,
// e.g. `npm test -- --test-name-pattern=sealing` or a list of files.
//
// The default run is the quick one (about a minute on two cores): fixed seeds, small random meshes, a few kills in the
// crash test. MESHGEN_SOAK=1 runs the long one: the property tests with a random (printed) seed, more runs and bigger
// meshes, and the crash test's full count of kills. Each test file documents its own knobs (MESHGEN_FC_*, MESHGEN_CRASH_*).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

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
  // The slowest files first, so that the two workers finish together.
  const slow = ['test/crash/', 'test/properties/'];
  const rank = (f) => {
    const i = slow.findIndex((s) => f.startsWith(s));
    return i < 0 ? slow.length : i;
  };
  files.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

const env = { ...process.env };
const soak = env.MESHGEN_SOAK === '1';
// SIGKILLs of the crash test's main scenario (its own default, 25, is the soak run).
if (!soak) env.MESHGEN_CRASH_RUNS ??= '4';
console.log(`run-tests: ${soak ? 'soak run (MESHGEN_SOAK=1)' : 'quick run (MESHGEN_SOAK=1 for the long one)'}, ${files.length} file(s)`);

const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...flags, ...files], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
