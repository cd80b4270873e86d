/**
 * The rollout model finds the defects of the output from before the convergence fixes (issue 10, items 1–4), so it can
 * fail: see `fixtures/before-fix/README.md`.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli';
import { makeExampleWorkdir, REPO_ROOT } from '../helpers/workdir';
import { rollout } from './model';

const FIXTURES = path.join(__dirname, 'fixtures', 'before-fix');
const sealingKeyOf = (cluster: string) => fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'sealing-keys', `${cluster}.key`), 'utf8');
const tokenOf = (cluster: string) =>
  fs
    .readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'example-private', 'tokens', `${cluster.replace('cluster-', 'context-')}.token`), 'utf8')
    .trim();

test('item 1: the token-only remote secrets unseal differently on Sealed Secrets after PR #1940', () => {
  for (const delivery of ['argocd', 'flux'] as const) {
    const r = rollout(path.join(FIXTURES, 'operator-default'), { delivery, sealingKeyOf, tokenOf });
    assert.ok(
      r.violations.some((v) => /SealedSecret istio-remote-secret-cluster-east-2 unseals differently/.test(v)),
      r.violations.join('\n'),
    );
    // On a newer controller the Secret holds the bare token, not a kubeconfig.
    const data = r.secrets.get('cluster-east-1')?.get('istio-remote-secret-cluster-east-2');
    assert.equal(data?.['cluster-east-2'].toString(), tokenOf('cluster-east-2'));
  }
});

test('item 4: the default IstioOperator needs a CRD that no current Istio install provides', () => {
  for (const delivery of ['argocd', 'flux'] as const) {
    const r = rollout(path.join(FIXTURES, 'operator-default'), { delivery, sealingKeyOf, tokenOf });
    assert.ok(
      r.violations.some((v) => /applies IstioOperator control-plane, whose CRD comes from no stated prerequisite/.test(v)),
      r.violations.join('\n'),
    );
    assert.ok(r.stuck.length > 0, 'the control plane never installs');
  }
});

test('item 3: Argo CD + helm: istiod (its own Application) starts before cacerts', () => {
  const r = rollout(path.join(FIXTURES, 'helm-primary-remote'), { delivery: 'argocd', sealingKeyOf, tokenOf });
  assert.ok(
    r.violations.some((v) => /^cluster-east-1: istiod \(istiod\) starts before the cacerts Secret exists/.test(v)),
    r.violations.join('\n'),
  );
});

test("item 2: Flux + helm: the remote's reader token waits behind its east-west gateway, which waits for the token", () => {
  const r = rollout(path.join(FIXTURES, 'helm-primary-remote'), { delivery: 'flux', sealingKeyOf, tokenOf });
  assert.ok(
    r.stuck.some((s) => /^cluster-west-1: istio-control-plane never finishes \(waits for HelmRelease istio-eastwestgateway/.test(s)),
    r.stuck.join('\n'),
  );
  assert.ok(
    r.stuck.some((s) => /^cluster-west-1: istio-post-install never finishes/.test(s)),
    r.stuck.join('\n'),
  );
});

test('the committed example converges with Argo CD and with Flux', () => {
  for (const delivery of ['argocd', 'flux'] as const) {
    const r = rollout(REPO_ROOT, { delivery, sealingKeyOf, tokenOf });
    assert.deepEqual(r.violations, []);
    assert.deepEqual(r.stuck, []);
    for (const holder of ['cluster-east-1', 'cluster-east-2', 'cluster-west-1']) {
      for (const peer of ['cluster-east-1', 'cluster-east-2', 'cluster-west-1'].filter((p) => p !== holder)) {
        const data = r.secrets.get(holder)?.get(`istio-remote-secret-${peer}`);
        assert.deepEqual(Object.keys(data ?? {}), [peer]);
        assert.match(data?.[peer].toString() ?? '', new RegExp(`token: ${tokenOf(peer).replace(/[.]/g, '\\.')}\\n`));
      }
    }
  }
});

test('stores sealed before the fix migrate: --frozen names each token-only remote secret; synth reseals them from the kept tokens', async () => {
  const dir = makeExampleWorkdir({ withPrivateKeys: true });
  fs.rmSync(path.join(dir, 'sealed'), { recursive: true });
  fs.cpSync(path.join(FIXTURES, 'operator-default', 'sealed'), path.join(dir, 'sealed'), { recursive: true });
  const frozen = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
  assert.equal(frozen.code, 1, frozen.stderr);
  const pairs = [...frozen.stderr.matchAll(/sealed\/(\S+)\.yaml istio-remote-secret-(\S+)\/\S+: sealed in an older format/g)].map(
    (m) => `${m[1]}:${m[2]}`,
  );
  assert.deepEqual(pairs.sort(), [
    'cluster-east-1:cluster-east-2',
    'cluster-east-1:cluster-west-1',
    'cluster-east-2:cluster-east-1',
    'cluster-east-2:cluster-west-1',
    'cluster-west-1:cluster-east-1',
    'cluster-west-1:cluster-east-2',
  ]);
  // The cacerts entries (ciphertext and fingerprints; the stores of that time had no tamper checks, synth adds them).
  const cacertsOf = (t: string) => t.match(/ {2}cacerts:\n(?: {4}.*\n)+/)?.[0].replace(/ {6}check: [0-9a-f]{64}\n/g, '');
  const cacertsBefore = cacertsOf(fs.readFileSync(path.join(dir, 'sealed', 'cluster-east-1.yaml'), 'utf8'));
  // With the kept reader tokens, synth reseals exactly the six remote secrets, as whole kubeconfigs.
  const r = await runCli(['synth', '--workdir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /sealed 6 value\(s\)/);
  assert.equal(cacertsOf(fs.readFileSync(path.join(dir, 'sealed', 'cluster-east-1.yaml'), 'utf8')), cacertsBefore, 'cacerts ciphertext kept');
  const again = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  const r2 = rollout(dir, { delivery: 'flux', sealingKeyOf, tokenOf });
  assert.deepEqual(r2.violations, []);
  assert.match(r2.secrets.get('cluster-west-1')?.get('istio-remote-secret-cluster-east-1')?.['cluster-east-1'].toString() ?? '', /^apiVersion: v1\n/);
  fs.rmSync(dir, { recursive: true });
});

test("a changed server is seen without the token (CI): the remote secret's public fingerprint", async () => {
  const dir = makeExampleWorkdir();
  const file = path.join(dir, 'topology.yaml');
  fs.writeFileSync(
    file,
    fs.readFileSync(file, 'utf8').replace('https://api.cluster-west-1.example.com:6443', 'https://api2.cluster-west-1.example.com:6443'),
  );
  const r = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
  assert.equal(r.code, 1);
  const pairs = [...r.stderr.matchAll(/sealed\/(\S+)\.yaml istio-remote-secret-(\S+)\/\S+: the peer's server or CA changed/g)].map(
    (m) => `${m[1]}:${m[2]}`,
  );
  assert.deepEqual(pairs.sort(), ['cluster-east-1:cluster-west-1', 'cluster-east-2:cluster-west-1']);
  fs.rmSync(dir, { recursive: true });
});
