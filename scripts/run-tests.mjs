#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's test runner (through tsx). Extra arguments are passed on,
// e.g. `npm test -- --test-name-pattern=sealing` or a list of files.
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
  files.sort();
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...flags, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
