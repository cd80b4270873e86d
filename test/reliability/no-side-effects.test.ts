/**
 * A run that fails has no side effect (issue 11, category 2): synth must not create the intermediate CAs (keys and
 * certificates under certs/<cluster>/), nor .gitignore lines, nor sealed stores, and then exit non-zero because of
 * another input. The whole work directory (paths, bytes, modes) is compared before and after.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import { parseDocument } from 'yaml';
import { createRootCa } from '../../src/pki';
import { useFixtureRsa2048Keys } from '../helpers/fixture-keys';
import { type MeshSpec, makeMeshWorkdir, SEALING_CERT_FILE, synthIn } from '../helpers/mesh-gen';
import { snapshotDiff, snapshotDir } from '../helpers/snapshot';

// The 2048-bit keys made in this process (the sealing certificates of the tests, intermediates synth issues) are
// fixture keys, each distinct (see useFixtureRsa2048Keys): what is tested is what synth writes, not key generation.
useFixtureRsa2048Keys(mock);

const SPEC: MeshSpec = {
  meshId: 'side-effects',
  clusters: [
    { context: 'ctx-a', cluster: 'cluster-a', network: 'net-1' },
    { context: 'ctx-b', cluster: 'cluster-b', network: 'net-1' },
    { context: 'ctx-c', cluster: 'cluster-c', network: 'net-2' },
  ],
};

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A copy of `from` where cluster-c has no intermediate CA yet, so the next synth creates one (the root key is present). */
function needingNewKey(from: string): string {
  const dir = fs.mkdtempSync(`${from}-case-`);
  dirs.push(dir);
  fs.cpSync(from, dir, { recursive: true });
  for (const f of ['ca-key.pem', 'ca-cert.pem', 'cert-chain.pem', 'root-cert.pem'])
    fs.rmSync(path.join(dir, 'certs', 'cluster-c', f), { force: true });
  return dir;
}

function editTopology(dir: string, at: string[], value: unknown): void {
  const file = path.join(dir, 'topology.yaml');
  const doc = parseDocument(fs.readFileSync(file, 'utf8'));
  doc.setIn(at, value);
  fs.writeFileSync(file, doc.toString());
}

async function expiredCertPem(): Promise<string> {
  const day = 24 * 60 * 60 * 1000;
  return (await createRootCa({ org: 'sealed-secret', keySize: 2048, days: 1, now: new Date(Date.now() - 10 * day) })).certPem;
}

describe('synth leaves the work directory byte-identical when it fails after it would have created keys', () => {
  let withTokens = '';
  let withoutTokens = '';

  before(async () => {
    // GIVEN synthesized meshes (sealed/ and dist/ written), without a .gitignore
    withTokens = await makeMeshWorkdir(SPEC, { tokens: true });
    withoutTokens = await makeMeshWorkdir(SPEC, { tokens: false });
    dirs.push(withTokens, withoutTokens);
    for (const d of [withTokens, withoutTokens]) {
      const r = await synthIn(d);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!fs.existsSync(path.join(d, '.gitignore')));
    }
  });

  const cases: { name: string; exit: number; args?: string[]; stderr: RegExp; setup: (dir: string) => void | Promise<void>; base?: () => string }[] =
    [
      {
        name: 'a cluster has no sealing certificate',
        exit: 2,
        stderr: /missing\.pem.*not found/,
        setup: (dir) => editTopology(dir, ['contexts', 'ctx-b', 'sealingCert'], 'sealing-certs/missing.pem'),
      },
      {
        name: 'a sealed/ store is corrupt',
        exit: 2,
        stderr: /sealed\/cluster-a\.yaml/,
        setup: (dir) => fs.writeFileSync(path.join(dir, 'sealed', 'cluster-a.yaml'), '<<<<<<< HEAD\ncluster: [\n'),
      },
      {
        name: 'the sealing certificate expired',
        exit: 2,
        stderr: /expired/,
        setup: async (dir) => fs.writeFileSync(path.join(dir, SEALING_CERT_FILE), await expiredCertPem()),
      },
      {
        name: "another cluster's cacerts must be resealed and its key is absent",
        exit: 2,
        stderr: /certs\/cluster-a\/ca-key\.pem/,
        setup: async (dir) => {
          const renewed = await createRootCa({ org: 'sealed-secret', keySize: 2048 });
          fs.writeFileSync(path.join(dir, SEALING_CERT_FILE), renewed.certPem);
          fs.rmSync(path.join(dir, 'certs', 'cluster-a', 'ca-key.pem'));
        },
      },
      {
        name: '--strict finds reader tokens not sealed yet (exit 1)',
        exit: 1,
        args: ['--strict'],
        stderr: /--strict/,
        setup: () => {},
        base: () => withoutTokens,
      },
      {
        name: 'base.yaml is malformed',
        exit: 2,
        stderr: /base\.yaml/,
        setup: (dir) => fs.writeFileSync(path.join(dir, 'base.yaml'), 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec: [\n'),
      },
    ];

  for (const c of cases) {
    test(`fails when ${c.name}, and changes nothing`, async () => {
      const dir = needingNewKey(c.base?.() ?? withTokens);
      await c.setup(dir);
      const beforeRun = snapshotDir(dir);
      // WHEN synth runs (it would create cluster-c's intermediate CA)
      const r = await synthIn(dir, ...(c.args ?? []));
      // THEN it fails for the bad input...
      assert.equal(r.code, c.exit, `exit code; stderr:\n${r.stderr}`);
      assert.match(r.stderr, c.stderr);
      // ...and the work directory is byte-identical: no key, no certificate, no .gitignore, no store, no lock
      assert.deepEqual(snapshotDiff(beforeRun, snapshotDir(dir)), []);
    });
  }

  test('the same run succeeds once the input is fixed, and then creates the key (the cases above do reach key creation)', async () => {
    const dir = needingNewKey(withTokens);
    const r = await synthIn(dir);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.existsSync(path.join(dir, 'certs', 'cluster-c', 'ca-key.pem')));
    assert.match(r.stderr, /created intermediate CAs.*cluster-c/);
  });
});
