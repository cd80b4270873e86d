import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from './helpers/cli';

const BIN = path.join(__dirname, '..', 'bin', 'meshgen');

test('--help lists every command; each command has --help with an example', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['prep', 'synth', 'seal-token', 'teardown']) {
    assert.match(r.stdout, new RegExp(`meshgen ${c}`));
    const h = await runCli([c, '--help']);
    assert.equal(h.code, 0, c);
    assert.match(h.stdout, /Examples:/, `${c} --help has an example`);
  }
});

test('MESHGEN_* environment variables (MESHGEN_CRDS, unrelated ones) do not break any command', async () => {
  const saved = process.env.MESHGEN_CRDS;
  process.env.MESHGEN_CRDS = '/nonexistent/crds';
  process.env.MESHGEN_SOMETHING_ELSE = '1';
  try {
    const r = await runCli(['synth', '--check', '--frozen', '--workdir', path.join(__dirname, '..')]);
    assert.doesNotMatch(r.stderr, /Unknown argument/);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  } finally {
    delete process.env.MESHGEN_SOMETHING_ELSE;
    if (saved === undefined) delete process.env.MESHGEN_CRDS;
    else process.env.MESHGEN_CRDS = saved;
  }
});

test('fails when the command is misspelt, suggesting the nearest one (exit 2, nothing run)', async () => {
  const r = await runCli(['synht']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command "synht"; did you mean "synth"\?/);
});

test(
  'the installed bin answers --help quickly (compiled JS, no work at import time)',
  { skip: spawnSync('test', ['-f', path.join(__dirname, '..', 'lib', 'src', 'cli', 'main.js')]).status !== 0 && 'lib/ is not built' },
  () => {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Commands:/);
    // Not a performance assertion (machines are noisy): only a guard against accidental heavy work at start-up.
    assert.ok(ms < 5000, `--help took ${ms} ms`);
  },
);
