/**
 * Convergence: the generated repository, applied by Argo CD or by Flux to fresh clusters, installs a working mesh.
 * Every topology × installer × secrets provider (× revision) is synthesized and rolled out through the model of
 * `model.ts`, which derives the apply order from the generated objects alone.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { runCli } from '../helpers/cli';
import { type MeshSpec, makeMeshWorkdir, sealingKeyPem, synthIn, tokenOf } from '../helpers/mesh-gen';
import { AMBIENT_MESH, SIDECAR_MESHES } from '../helpers/meshes';
import { type Delivery, type KObject, rollout } from './model';

const TOPOLOGIES: Record<string, MeshSpec> = { ...SIDECAR_MESHES };

type Installer = 'helm' | 'sail' | 'operator';

type Provider = 'sealed-secrets' | 'external-secrets';

/** Work directories by case, synthesized once and rolled out with both deliveries. */
async function synthesized(spec: MeshSpec, installer: Installer, provider: Provider, revision?: string, ambient = false): Promise<string> {
  const dir = await makeMeshWorkdir(spec, { tokens: true });
  const topo = parse(fs.readFileSync(path.join(dir, 'topology.yaml'), 'utf8')) as Record<string, unknown>;
  topo.istio = { installer, version: '1.30.3', ...(revision ? { revision } : {}), ...(ambient ? { dataplane: 'ambient' } : {}) };
  if (provider === 'external-secrets') topo.secrets = { provider, store: { kind: 'ClusterSecretStore', name: 'vault' } };
  fs.writeFileSync(path.join(dir, 'topology.yaml'), stringify(topo));
  const r = await synthIn(dir, '--strict');
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

const CASES: { topology: string; installer: Installer; provider: Provider; revision?: string; ambient?: boolean }[] = [];
for (const installer of ['helm', 'sail', 'operator'] as const) {
  for (const provider of ['sealed-secrets', 'external-secrets'] as const)
    CASES.push({ topology: 'ambient: multi-primary, two networks', installer, provider, ambient: true });
}
CASES.push({ topology: 'ambient: multi-primary, two networks', installer: 'helm', provider: 'sealed-secrets', revision: '1-30', ambient: true });
const SIDECAR_TOPOLOGIES = Object.keys(TOPOLOGIES);
TOPOLOGIES['ambient: multi-primary, two networks'] = AMBIENT_MESH;
for (const topology of SIDECAR_TOPOLOGIES) {
  for (const installer of ['helm', 'sail', 'operator'] as const) {
    for (const provider of ['sealed-secrets', 'external-secrets'] as const) CASES.push({ topology, installer, provider });
  }
}
// Revisions where they matter most: primaries serving remotes (istiod exposure, release names).
for (const installer of ['helm', 'sail', 'operator'] as const)
  CASES.push({ topology: 'mixed: two primaries, remotes of one', installer, provider: 'sealed-secrets', revision: '1-30' });

for (const c of CASES) {
  const name = `${c.topology} · ${c.installer} · ${c.provider}${c.revision ? ` · revision ${c.revision}` : ''}`;
  test(`converges with Argo CD and with Flux: ${name}`, async () => {
    const dir = await synthesized(TOPOLOGIES[c.topology], c.installer, c.provider, c.revision, c.ambient);
    const key = await sealingKeyPem();
    for (const delivery of ['argocd', 'flux'] as Delivery[]) {
      const r = rollout(dir, { delivery, sealingKeyOf: () => key, tokenOf });
      assert.deepEqual(r.violations, [], `${delivery}: violations`);
      assert.deepEqual(r.stuck, [], `${delivery}: did not converge\n${[...r.log].map(([k, v]) => `${k}:\n  ${v.join('\n  ')}`).join('\n')}`);
      checkRemoteSecrets(dir, r.secrets, c.provider, TOPOLOGIES[c.topology]);
    }
    // `meshgen validate` is clean on fresh output of every installer × provider.
    const v = await runCli(['validate', '--workdir', dir]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /validate: ok/);
    fs.rmSync(dir, { recursive: true });
  });
}

/**
 * On every primary, for every other cluster, a remote secret with one key named after the peer, holding a kubeconfig
 * whose cluster, context and user are the peer and whose token is the peer's; remotes hold none.
 */
function checkRemoteSecrets(dir: string, secrets: Map<string, Map<string, Record<string, Buffer>>>, provider: Provider, spec: MeshSpec): void {
  for (const c of spec.clusters) {
    const held = [...(secrets.get(c.cluster)?.keys() ?? [])].filter((s) => s.startsWith('istio-remote-secret-')).sort();
    const peers = c.role === 'remote' ? [] : spec.clusters.filter((p) => p.cluster !== c.cluster).map((p) => p.cluster);
    assert.deepEqual(held, peers.map((p) => `istio-remote-secret-${p}`).sort(), `${c.cluster}: remote secrets`);
    for (const peer of peers) {
      const data = secrets.get(c.cluster)?.get(`istio-remote-secret-${peer}`) as Record<string, Buffer>;
      assert.deepEqual(Object.keys(data), [peer], `${c.cluster}: istio-remote-secret-${peer} has one key, the peer`);
      const kubeconfig = parse(data[peer].toString()) as Record<string, any>;
      assert.equal(kubeconfig.clusters[0].name, peer);
      assert.equal(kubeconfig.contexts[0].name, peer);
      assert.equal(kubeconfig['current-context'], peer);
      assert.equal(kubeconfig.users[0].name, peer);
      assert.equal(kubeconfig.clusters[0].cluster.server, `https://api.${peer}.example.test:6443`);
      assert.equal(kubeconfig.users[0].user.token, provider === 'sealed-secrets' ? tokenOf(peer) : `token-of-${peer}`);
    }
  }
  // Sealed remote secrets have no template key equal to an encrypted key (both controller behaviours agree by design).
  for (const f of fs.readdirSync(path.join(dir, 'dist', 'clusters'))) {
    const file = path.join(dir, 'dist', 'clusters', f, 'secrets', 'remote-secrets.yaml');
    if (!fs.existsSync(file)) continue;
    for (const d of parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
      const o = d.toJS() as KObject;
      if (o.kind !== 'SealedSecret') continue;
      const enc = Object.keys(o.spec?.encryptedData ?? {});
      const tpl = Object.keys(o.spec?.template?.data ?? {});
      assert.deepEqual(
        enc.filter((k) => tpl.includes(k)),
        [],
        `${f}: ${o.metadata.name}: template.data keys collide with encryptedData`,
      );
    }
  }
}
