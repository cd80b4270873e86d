import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, type Problem } from '../errors';
import { TOPOLOGY_FILE } from '../topology/load';
import type { Cluster, Mesh } from '../topology/model';
import { YamlSource } from '../topology/yaml-source';
import { loadSealingCert, type SealingCert } from './sealing-cert';

/**
 * Loads the sealing certificate of each of `clusters` (default: all), reporting every missing, expired or
 * unusable one at once, each with the topology line that names it.
 */
export function loadMeshSealingCerts(workdir: string, mesh: Mesh, now: Date, clusters: readonly Cluster[] = mesh.clusters): Map<string, SealingCert> {
  const out = new Map<string, SealingCert>();
  const problems: Problem[] = [];
  const topo = YamlSource.parse(TOPOLOGY_FILE, fs.readFileSync(path.join(workdir, TOPOLOGY_FILE), 'utf8'));
  for (const c of clusters) {
    // The problem is in the certificate file; the setting that names it (or its context, for the default path) is
    // pointed at with its topology.yaml line.
    const explicit = topo.locate(['contexts', c.context, 'sealingCert']);
    const loc = explicit.line !== undefined ? explicit : topo.locate(['contexts', c.context], true);
    const setting = `contexts.${c.context}.sealingCert (${TOPOLOGY_FILE}${loc.line !== undefined ? `:${loc.line}` : ''})`;
    let pem: string;
    try {
      pem = fs.readFileSync(path.resolve(workdir, c.sealingCert), 'utf8');
    } catch {
      problems.push({
        file: c.sealingCert,
        path: setting,
        message: `the Sealed Secrets certificate of ${c.name} was not found`,
        fix: `fetch it with \`kubeseal --context ${c.context} --controller-name sealed-secrets --controller-namespace kube-system --fetch-cert > ${c.sealingCert}\`, or set contexts.${c.context}.sealingCert`,
      });
      continue;
    }
    try {
      out.set(c.name, loadSealingCert(pem, { file: c.sealingCert, path: setting }, now));
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      const fetch = `kubeseal --context ${c.context} --controller-name sealed-secrets --controller-namespace kube-system --fetch-cert > ${c.sealingCert}`;
      problems.push(...e.problems.map((p) => ({ ...p, fix: `fetch the controller's current certificate: \`${fetch}\`` })));
    }
  }
  if (problems.length > 0) throw new InputError(problems);
  return out;
}
