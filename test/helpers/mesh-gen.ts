/**
 * Work directories for generated meshes, built quickly: everything synth needs (topology.yaml, base.yaml, a root CA,
 * one intermediate CA per cluster, a sealing certificate and, optionally, kept reader tokens) without running `prep`
 * or letting synth generate keys.
 *
 * Key generation is the slow part, so it happens once per test process (each test file runs in its own process):
 * the root CA, the sealing certificate (shared by every cluster) and a small pool of 2048-bit RSA keys. Each cluster's
 * intermediate is issued over a key of the pool with the same subject and extensions as `createIntermediateCa`
 * (signing costs ~2 ms, a fresh key ~150 ms), and cached by cluster name, so random cluster names cost nothing.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import {
  createRootCa,
  generateRsaKey,
  INTERMEDIATE_SAN_DNS,
  type IntermediateCaFiles,
  issueCertificate,
  type RootCaFiles,
  type RsaKeyPair,
} from '../../src/pki';
import { type CliResult, runCli } from './cli';

/** One cluster of a generated mesh. */
export interface MeshClusterSpec {
  /** The kube context (the key under `contexts:`). */
  readonly context: string;
  /** The cluster name; `cluster:` is left out of topology.yaml when it equals the context (the default). */
  readonly cluster: string;
  /** The Istio network. */
  readonly network: string;
  /**
   * @default - no `role:` (a primary)
   */
  readonly role?: 'primary' | 'remote';
  /** For a remote: the context of its primary. */
  readonly primary?: string;
  /** `eastWestGateway.address` (a primary serving remotes needs one). */
  readonly address?: string;
}

/** A generated mesh. */
export interface MeshSpec {
  readonly meshId: string;
  readonly clusters: readonly MeshClusterSpec[];
  /**
   * `gitops.repoURL`; with it synth writes the Argo CD ApplicationSet.
   * @default - no gitops section
   */
  readonly repoURL?: string;
}

/** Options of {@link makeMeshWorkdir}. */
export interface MeshWorkdirOptions {
  /**
   * Keep a reader token for every cluster in `certs/<cluster>/reader-token`, so synth seals the remote secrets itself.
   * @default false
   */
  readonly tokens?: boolean;
  /**
   * Write into this existing directory instead of a new temporary one (e.g. after editing the spec): topology.yaml is
   * rewritten and the files of clusters that are new are added; nothing else is touched.
   * @default - a new directory under the OS temporary directory
   */
  readonly dir?: string;
  /**
   * Content of base.yaml (only written when the file does not exist yet).
   * @default BASE_YAML
   */
  readonly base?: string;
}

/** Where every cluster's `sealingCert:` points (one certificate shared by the whole mesh). */
export const SEALING_CERT_FILE = 'sealing-certs/shared.pem';

/** The default base.yaml: a plain IstioOperator. */
export const BASE_YAML = 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  profile: default\n';

/** Size of the pool of intermediate keys. */
const KEY_POOL = 4;
const KEY_SIZE = 2048;
const ORG = 'meshgen property tests';

interface Pki {
  readonly root: RootCaFiles;
  readonly sealing: RootCaFiles;
  readonly keys: readonly RsaKeyPair[];
}

let pki: Promise<Pki> | undefined;
const intermediates = new Map<string, IntermediateCaFiles>();

/** The root CA, the sealing certificate and the key pool of this process, generated on first use. */
export function meshPki(): Promise<Pki> {
  pki ??= (async () => {
    const [root, sealing, ...keys] = await Promise.all([
      createRootCa({ org: ORG, keySize: KEY_SIZE }),
      createRootCa({ org: 'sealed-secret', keySize: KEY_SIZE }),
      ...Array.from({ length: KEY_POOL }, () => generateRsaKey(KEY_SIZE)),
    ]);
    return { root: root as RootCaFiles, sealing: sealing as RootCaFiles, keys: keys as RsaKeyPair[] };
  })();
  return pki;
}

/** The private key of the shared sealing certificate (to unseal what synth sealed). */
export async function sealingKeyPem(): Promise<string> {
  return (await meshPki()).sealing.keyPem;
}

/** Base64 of a PEM certificate, usable as any cluster's `certificateAuthorityData`. */
export async function apiServerCaData(): Promise<string> {
  return Buffer.from((await meshPki()).sealing.certPem).toString('base64');
}

/** The API server URL written for a cluster. */
export function serverOf(cluster: string): string {
  return `https://api.${cluster}.example.test:6443`;
}

/** The reader token kept for a cluster (deterministic, so a rewritten work directory keeps its seals). */
export function tokenOf(cluster: string): string {
  return `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(`reader of ${cluster}`).toString('base64url')}.sig`;
}

/**
 * The intermediate CA of a cluster, as `createIntermediateCa` issues it (subject `O=<org>, CN=Intermediate CA,
 * L=<cluster>`, CA:true pathlen:0, the CA key usages, SAN `DNS:istiod.istio-system.svc`, SKI and AKI, signed by the
 * root), over a key of the pool. Cached by cluster name.
 */
export async function intermediateOf(cluster: string): Promise<IntermediateCaFiles> {
  const cached = intermediates.get(cluster);
  if (cached) return cached;
  const { root, keys } = await meshPki();
  const key = keys[crypto.createHash('sha256').update(cluster).digest()[0] % keys.length];
  const caCertPem = issueCertificate(
    {
      subject: [
        { shortName: 'O', value: ORG },
        { shortName: 'CN', value: 'Intermediate CA' },
        { shortName: 'L', value: cluster },
      ],
      publicKeyPem: key.publicKeyPem,
      extensions: [
        { name: 'subjectKeyIdentifier' },
        { name: 'basicConstraints', critical: true, cA: true, pathLenConstraint: 0 },
        { name: 'keyUsage', critical: true, digitalSignature: true, nonRepudiation: true, keyEncipherment: true, keyCertSign: true },
        { name: 'subjectAltName', dnsNames: [INTERMEDIATE_SAN_DNS] },
        { name: 'authorityKeyIdentifier' },
      ],
      days: 3650,
    },
    { keyPem: root.keyPem, certPem: root.certPem },
  );
  const rootCertPem = root.certPem.endsWith('\n') ? root.certPem : `${root.certPem}\n`;
  const files = { caCertPem, caKeyPem: key.privateKeyPem, certChainPem: caCertPem + rootCertPem, rootCertPem };
  intermediates.set(cluster, files);
  return files;
}

/**
 * The text of topology.yaml for a spec: every cluster with `server`, `certificateAuthorityData` and the shared
 * `sealingCert`; `cluster:` only where it differs from the context; `role`/`primary`/`eastWestGateway.address` where set.
 */
export function renderTopology(spec: MeshSpec, caData: string): string {
  const contexts: Record<string, Record<string, unknown>> = {};
  for (const c of spec.clusters) {
    const ctx: Record<string, unknown> = { network: c.network };
    if (c.cluster !== c.context) ctx.cluster = c.cluster;
    if (c.role !== undefined) ctx.role = c.role;
    if (c.primary !== undefined) ctx.primary = c.primary;
    ctx.server = serverOf(c.cluster);
    ctx.certificateAuthorityData = caData;
    if (c.address !== undefined) ctx.eastWestGateway = { address: c.address };
    ctx.sealingCert = SEALING_CERT_FILE;
    contexts[c.context] = ctx;
  }
  const doc: Record<string, unknown> = { mesh_id: spec.meshId };
  if (spec.repoURL !== undefined) doc.gitops = { repoURL: spec.repoURL };
  doc.contexts = contexts;
  return stringify(doc, { lineWidth: 0 });
}

/** Rewrites topology.yaml of a work directory (only that file). */
export async function writeTopology(dir: string, spec: MeshSpec): Promise<void> {
  fs.writeFileSync(path.join(dir, 'topology.yaml'), renderTopology(spec, await apiServerCaData()));
}

/**
 * Builds (or updates, with `opts.dir`) a work directory for a mesh: topology.yaml, base.yaml, `certs/root-cert.pem`
 * and `certs/root-key.pem`, each cluster's four `cacerts` files, the shared sealing certificate and, with `tokens`,
 * `certs/<cluster>/reader-token`. Files that exist are left alone. Returns the directory; the caller removes it.
 */
export async function makeMeshWorkdir(spec: MeshSpec, opts: MeshWorkdirOptions = {}): Promise<string> {
  const { root, sealing } = await meshPki();
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-mesh-'));
  const write = (rel: string, data: string, mode = 0o644) => {
    const abs = path.join(dir, rel);
    if (fs.existsSync(abs)) return;
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, data, { mode });
  };
  await writeTopology(dir, spec);
  write('base.yaml', opts.base ?? BASE_YAML);
  write('certs/root-cert.pem', root.certPem);
  write('certs/root-key.pem', root.keyPem, 0o600);
  write(SEALING_CERT_FILE, sealing.certPem);
  for (const c of spec.clusters) {
    const ca = await intermediateOf(c.cluster);
    write(`certs/${c.cluster}/ca-key.pem`, ca.caKeyPem, 0o600);
    write(`certs/${c.cluster}/root-cert.pem`, ca.rootCertPem);
    write(`certs/${c.cluster}/cert-chain.pem`, ca.certChainPem);
    write(`certs/${c.cluster}/ca-cert.pem`, ca.caCertPem);
    if (opts.tokens) write(`certs/${c.cluster}/reader-token`, `${tokenOf(c.cluster)}\n`, 0o600);
  }
  return dir;
}

/** Removes every private file of a work directory: the root key, the intermediates' keys and the kept tokens. */
export function removePrivateFiles(dir: string): string[] {
  const removed: string[] = [];
  const rm = (rel: string) => {
    if (fs.existsSync(path.join(dir, rel))) {
      fs.rmSync(path.join(dir, rel));
      removed.push(rel);
    }
  };
  rm('certs/root-key.pem');
  const certs = path.join(dir, 'certs');
  for (const e of fs.readdirSync(certs, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    rm(`certs/${e.name}/ca-key.pem`);
    rm(`certs/${e.name}/reader-token`);
  }
  return removed;
}

/** `meshgen synth --ca-key-size 2048 --workdir <dir> [...extra]`, in-process. */
export function synthIn(dir: string, ...extra: string[]): Promise<CliResult> {
  return runCli(['synth', '--ca-key-size', String(KEY_SIZE), '--workdir', dir, ...extra]);
}
