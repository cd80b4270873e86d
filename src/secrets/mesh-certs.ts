import * as path from 'node:path';
import { InputError, type Problem } from '../errors';
import { READ_LIMITS, readBounded } from '../fs-util';
import { readInput, TOPOLOGY_FILE } from '../topology/load';
import type { Cluster, Mesh } from '../topology/model';
import { YamlSource } from '../topology/yaml-source';
import { loadSealingCert, type SealingCert, sealingCertFix } from './sealing-cert';

/**
 * Loads the sealing certificate of each of `clusters` (default: all), reporting every missing, expired or
 * unusable one at once, each with the topology line that names it.
 */
export function loadMeshSealingCerts(workdir: string, mesh: Mesh, now: Date, clusters: readonly Cluster[] = mesh.clusters): Map<string, SealingCert> {
  const out = new Map<string, SealingCert>();
  const problems: Problem[] = [];
  const topo = YamlSource.parse(TOPOLOGY_FILE, readInput(workdir, TOPOLOGY_FILE, 'run `meshgen prep --mesh-id <id> --org <org>` or pass --workdir'));
  for (const c of clusters) {
    // The problem is in the certificate file; the setting that names it (or its context, for the default path) is
    // pointed at with its topology.yaml line.
    const explicit = topo.locate(['contexts', c.context, 'sealingCert']);
    const loc = explicit.line !== undefined ? explicit : topo.locate(['contexts', c.context], true);
    const setting = `contexts.${c.context}.sealingCert (${TOPOLOGY_FILE}${loc.line !== undefined ? `:${loc.line}` : ''})`;
    const fix = sealingCertFix(c.sealingCert, c.context, c.name);
    let pem: string;
    try {
      pem = readBounded(path.resolve(workdir, c.sealingCert), {
        limit: READ_LIMITS.pem,
        display: c.sealingCert,
        what: `the Sealed Secrets certificate of ${c.name}`,
        fix,
      });
    } catch (e) {
      if (e instanceof InputError) {
        problems.push(...e.problems.map((p) => ({ ...p, path: setting })));
        continue;
      }
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      problems.push({
        file: c.sealingCert,
        path: setting,
        message: `the Sealed Secrets certificate of ${c.name} was not found`,
        fix: `${fix}, or set contexts.${c.context}.sealingCert`,
      });
      continue;
    }
    try {
      out.set(c.name, loadSealingCert(pem, { file: c.sealingCert, path: setting }, now));
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      problems.push(...e.problems.map((p) => ({ ...p, fix: p.fix?.replace(sealingCertFix(c.sealingCert), fix) ?? fix })));
    }
  }
  if (problems.length > 0) throw new InputError(problems);
  return out;
}
