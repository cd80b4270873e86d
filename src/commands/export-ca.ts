import * as fs from 'node:fs';
import * as path from 'node:path';
import { CACERTS_KEYS } from '../charts/ca-certs';
import { cacertsKey } from '../charts/external-secrets';
import { InputError } from '../errors';
import { makeDirs, PRIVATE_DIR_MODE, writeFileAtomic, writePrivateFile } from '../fs-util';
import { withWorkdirLock } from '../lock';
import { CertStore } from '../pki';
import { findContext, loadTopology } from '../topology/load';

/** Options of `export-ca`. */
export interface ExportCaOptions {
  readonly workdir: string;
  /** Cluster name, or the kube context of the cluster. */
  readonly cluster: string;
  /** Directory to write the four files into (created, or tightened, to mode 0700). */
  readonly out: string;
}

/** What export-ca wrote. */
export interface ExportCaResult {
  readonly cluster: string;
  readonly files: string[];
  /** The key the ExternalSecret `cacerts` reads (`<prefix>/<cluster>/cacerts`), one property per file. */
  readonly storeKey: string;
}

/**
 * Writes the four files of a cluster's `cacerts` (ca-cert.pem, ca-key.pem 0600, cert-chain.pem, root-cert.pem)
 * into a directory, for upload to the external secret store the `cacerts` ExternalSecret reads, e.g.
 * `vault kv put secret/<prefix>/<cluster>/cacerts ca-cert.pem=@ca-cert.pem ...`.
 */
export function exportCa(opts: ExportCaOptions): ExportCaResult {
  return withWorkdirLock(opts.workdir, 'meshgen export-ca', 'exclusive', () => exportCaLocked(opts));
}

function exportCaLocked(opts: ExportCaOptions): ExportCaResult {
  const mesh = loadTopology(opts.workdir);
  const cluster = mesh.clusters.find((c) => c.name === opts.cluster) ?? findContext(mesh, opts.cluster);
  const store = new CertStore(opts.workdir);
  const root = store.readRoot();
  if (!root) throw new InputError({ file: 'certs/root-cert.pem', message: 'the root CA is missing', fix: 'run `meshgen prep`' });
  const ca = store.readIntermediate(cluster.name, root.certPem);
  if (!ca) {
    throw new InputError({
      file: `certs/${cluster.name}/ca-cert.pem`,
      message: `${cluster.name} has no intermediate CA yet`,
      fix: 'run `meshgen synth` first (with certs/root-key.pem present)',
    });
  }
  if (ca.caKeyPem === undefined) {
    throw new InputError({
      file: `certs/${cluster.name}/ca-key.pem`,
      message: 'is not on this machine',
      fix: 'run export-ca where the intermediate keys are kept (where synth created them)',
    });
  }
  if (fs.existsSync(opts.out) && !fs.statSync(opts.out).isDirectory()) {
    throw new InputError({ file: opts.out, message: '--out is not a directory', fix: 'pass a directory (it is created if missing)' });
  }
  // The directory receives a private key: created 0700, or tightened to 0700 when it exists (whatever the umask).
  makeDirs(opts.out, PRIVATE_DIR_MODE);
  fs.chmodSync(opts.out, PRIVATE_DIR_MODE);
  const content: Record<(typeof CACERTS_KEYS)[number], string> = {
    'ca-cert.pem': ca.caCertPem,
    'ca-key.pem': ca.caKeyPem,
    'cert-chain.pem': ca.certChainPem,
    'root-cert.pem': ca.rootCertPem,
  };
  const files: string[] = [];
  for (const k of CACERTS_KEYS) {
    const file = path.join(opts.out, k);
    if (k === 'ca-key.pem') writePrivateFile(file, content[k]);
    else writeFileAtomic(file, content[k], 0o644, PRIVATE_DIR_MODE);
    files.push(file);
  }
  return { cluster: cluster.name, files, storeKey: cacertsKey(mesh.secrets.prefix, cluster.name) };
}
