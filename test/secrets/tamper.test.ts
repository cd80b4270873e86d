/**
 * Tamper evidence (issue 11, item 9): ciphertext edited or moved in sealed/, and intermediates swapped between clusters,
 * are refused by synth (exit 2, dist/ untouched) and reported by validate, instead of being copied into dist/.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli';
import { hashTree, makeExampleWorkdir } from '../helpers/workdir';

const store = (dir: string, c: string) => path.join(dir, 'sealed', `${c}.yaml`);

async function refused(dir: string, pattern: RegExp): Promise<void> {
  const before = hashTree(dir);
  const r = await runCli(['synth', '--workdir', dir]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, pattern);
  assert.deepEqual(hashTree(dir), before, 'the work directory is unchanged');
  const v = await runCli(['validate', '--workdir', dir]);
  assert.equal(v.code, 1, v.stdout + v.stderr);
  assert.match(v.stdout + v.stderr, pattern);
}

test('an edited ciphertext in sealed/ is refused, naming the entry', async () => {
  const dir = makeExampleWorkdir({ withPrivateKeys: true });
  const text = fs.readFileSync(store(dir, 'cluster-east-1'), 'utf8');
  // Flip one base64 character of the first ciphertext (cacerts/ca-cert.pem).
  const edited = text.replace(/(\n {6}value: Ag.{20})(.)/, (_, a, ch) => a + (ch === 'A' ? 'B' : 'A'));
  assert.notEqual(edited, text);
  fs.writeFileSync(store(dir, 'cluster-east-1'), edited);
  await refused(dir, /sealed\/cluster-east-1\.yaml: secrets\.cacerts\.ca-cert\.pem: the ciphertext or fingerprint does not match its check/);
  fs.rmSync(dir, { recursive: true });
});

test("another cluster's entry copied over (ciphertext and check) is refused", async () => {
  const dir = makeExampleWorkdir({ withPrivateKeys: true });
  const entry = (t: string) => /\n {4}ca-key\.pem:\n(?: {6}.*\n)+/.exec(t)?.[0] as string;
  const east1 = fs.readFileSync(store(dir, 'cluster-east-1'), 'utf8');
  const east2 = fs.readFileSync(store(dir, 'cluster-east-2'), 'utf8');
  fs.writeFileSync(store(dir, 'cluster-east-1'), east1.replace(entry(east1), entry(east2)));
  await refused(dir, /sealed\/cluster-east-1\.yaml: secrets\.cacerts\.ca-key\.pem: .*moved from another secret or cluster/);
  fs.rmSync(dir, { recursive: true });
});

test('intermediates swapped between two clusters are refused, naming whose they are (L=)', async () => {
  const dir = makeExampleWorkdir({ withPrivateKeys: true });
  const certs = path.join(dir, 'certs');
  fs.renameSync(path.join(certs, 'cluster-east-1'), path.join(certs, 'tmp'));
  fs.renameSync(path.join(certs, 'cluster-east-2'), path.join(certs, 'cluster-east-1'));
  fs.renameSync(path.join(certs, 'tmp'), path.join(certs, 'cluster-east-2'));
  await refused(
    dir,
    /certs\/cluster-east-1\/ca-cert\.pem: is the intermediate CA of cluster "cluster-east-2" \(L=cluster-east-2\), not of "cluster-east-1"/,
  );
  fs.rmSync(dir, { recursive: true });
});

test('a store without checks (an earlier meshgen) is named by --frozen and completed by synth, ciphertext kept', async () => {
  const dir = makeExampleWorkdir({ withPrivateKeys: true });
  const text = fs.readFileSync(store(dir, 'cluster-west-1'), 'utf8');
  fs.writeFileSync(store(dir, 'cluster-west-1'), text.replace(/\n {6}check: [0-9a-f]{64}/g, ''));
  const frozen = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
  assert.equal(frozen.code, 1);
  assert.match(frozen.stderr, /sealed\/cluster-west-1\.yaml: \d+ value\(s\) have no tamper check/);
  const r = await runCli(['synth', '--workdir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(store(dir, 'cluster-west-1'), 'utf8'), text, 'the checks are back, the ciphertext unchanged');
  fs.rmSync(dir, { recursive: true });
});
