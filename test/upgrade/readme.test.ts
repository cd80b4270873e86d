/**
 * README "Upgrading Istio" quotes what to wait for between the phases: it must be the text `meshgen upgrade` prints
 * (WAIT_BEFORE_NEXT and WAIT_BEFORE_FINISH of src/commands/upgrade.ts, placeholders unfilled), line for line.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { UPGRADE_STEPS, WAIT_BEFORE_FINISH, WAIT_BEFORE_NEXT } from '../../src/commands/upgrade';
import { REPO_ROOT } from '../helpers/workdir';

const README = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

test('README "Upgrading Istio": the wait texts of every phase, as meshgen upgrade prints them', () => {
  const section = README.slice(README.indexOf('## Upgrading Istio'), README.indexOf('## Wiring up Argo CD'));
  assert.ok(section.length > 0, 'README has an "Upgrading Istio" section before "Wiring up Argo CD"');
  for (const step of UPGRADE_STEPS) {
    const block = WAIT_BEFORE_NEXT[step].map((l) => `  ${l}`).join('\n');
    assert.ok(section.includes(`after ${step}:\n${block}\n`), `README quotes the wait text after ${step}:\n${block}`);
  }
  const finish = WAIT_BEFORE_FINISH.map((l) => `  ${l}`).join('\n');
  assert.ok(section.includes(`before finish:\n${finish}\n`), `README quotes the wait text before finish:\n${finish}`);
});

test('README documents meshgen upgrade in "Commands" and the revision keys in the topology.yaml reference', () => {
  assert.match(README, /^### `meshgen upgrade`$/m);
  for (const key of ['istio.revisions', 'istio.tags', 'istio.gatewayRevision'])
    assert.match(README, new RegExp(`^\\| \`${key.replace('.', '\\.')}\` \\|`, 'm'));
});
