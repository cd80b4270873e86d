/**
 * `meshgen status`: one row per cluster (role, network, installer, the expiry of its intermediate CA, of the root and
 * of its sealing certificate, for which primaries its reader token is sealed, whether `dist/` is current), and what
 * needs action, each with the command to run. Reads only; holds the work directory's shared lock.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { kubeconfigTemplate } from '../charts/remote-secret';
import { InputError } from '../errors';
import { readIfExists } from '../fs-util';
import { withWorkdirLock } from '../lock';
import { currentTree, readTree } from '../output/tree';
import { CERTS_DIR } from '../pki';
import { sealingLabel } from '../secrets/kubeseal';
import { fingerprint, SealedStore } from '../secrets/sealed-store';
import { tokenFile } from '../secrets/tokens';
import { loadTopology } from '../topology/load';
import { type Cluster, ISTIO_NAMESPACE, type Mesh, remoteSecretName, remoteSecretPeers } from '../topology/model';
import { DIST_DIR, runSynth, type SynthCollector } from './synth';
import { checkWarnDays, DEFAULT_WARN_DAYS } from './validate';

/** Certificates expiring within this many days need action unless `warnDays` says otherwise. */
export const STATUS_WARN_DAYS = DEFAULT_WARN_DAYS;

/** Options of {@link status}. */
export interface StatusOptions {
  readonly workdir: string;
  /** Certificates expiring within this many days need action (0 to 36500). @default 30 */
  readonly warnDays?: number;
  /** The current time. */
  readonly now?: Date;
}

/** `ok`, `expiring` (within warnDays), `expired`, `missing` (no file), `invalid` (not a certificate). */
export type CertState = 'ok' | 'expiring' | 'expired' | 'missing' | 'invalid';

/** A certificate's expiry. */
export interface CertExpiry {
  /** The file, relative to the work directory. */
  readonly file: string;
  readonly state: CertState;
  /** NotAfter (ISO 8601), when the certificate could be read. */
  readonly notAfter?: string;
  /** Whole days left (negative once expired). */
  readonly daysLeft?: number;
}

/** Where a cluster's reader token is sealed (sealed-secrets), or that External Secrets pushes it. */
export interface ReaderTokenStatus {
  readonly provider: 'sealed-secrets' | 'external-secrets';
  /** The primaries that hold (or must hold) a remote secret for this cluster. */
  readonly primaries: string[];
  /** Those whose sealed store has it, current. */
  readonly sealedFor: string[];
  /** Those whose store lacks it. */
  readonly missing: string[];
  /** Those whose store has it sealed for another API server/CA, or with another sealing certificate. */
  readonly stale: string[];
  /** Whether this machine keeps the token (`certs/<cluster>/reader-token`), so synth can seal it itself. */
  readonly kept: boolean;
  /** No `server`/`certificateAuthorityData` in topology.yaml: no remote secret can be made for it. */
  readonly noServer: boolean;
}

/** One cluster's row. */
export interface ClusterStatus {
  readonly cluster: string;
  readonly context: string;
  readonly role: string;
  readonly network: string;
  readonly installer: string;
  /** Istio's data plane: `sidecar` or `ambient`. */
  readonly dataplane: string;
  readonly intermediate: CertExpiry;
  readonly root: CertExpiry;
  /** Undefined with external-secrets (nothing is sealed). */
  readonly sealingCert?: CertExpiry;
  readonly readerToken: ReaderTokenStatus;
  /** Whether the committed output of this cluster (dist/ and sealed/) is what synth produces; undefined when synth cannot run. */
  readonly distCurrent?: boolean;
  /** What is stale for this cluster: files that would change, and what needs sealing or keys. */
  readonly distStale: string[];
}

/** Something to do, and the command that does it. */
export interface StatusAction {
  readonly cluster?: string;
  readonly problem: string;
  readonly command: string;
}

/** What {@link status} found. */
export interface StatusResult {
  readonly warnDays: number;
  readonly meshId: string;
  readonly clusters: ClusterStatus[];
  /** The whole output: current, stale files (dist/ and sealed/) and needs, or why synth could not run. */
  readonly dist: { readonly current?: boolean; readonly stale: string[]; readonly error?: string };
  readonly actions: StatusAction[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The status of a work directory (see the module comment). Never writes.
 *
 * @throws InputError (exit 2) when topology.yaml is unusable or the options are bad
 */
export async function status(opts: StatusOptions): Promise<StatusResult> {
  const workdir = path.resolve(opts.workdir);
  const warnDays = checkWarnDays(opts.warnDays);
  return withWorkdirLock(workdir, 'meshgen status', 'shared', () => statusLocked(workdir, warnDays, opts.now ?? new Date()));
}

async function statusLocked(workdir: string, warnDays: number, now: Date): Promise<StatusResult> {
  const mesh = loadTopology(workdir);
  const actions: StatusAction[] = [];
  const act = (a: StatusAction) => {
    if (!actions.some((x) => x.cluster === a.cluster && x.command === a.command && x.problem === a.problem)) actions.push(a);
  };
  const expiry = (file: string) => certExpiry(workdir, file, now, warnDays);
  const when = (e: CertExpiry) =>
    e.state === 'expired'
      ? `expired on ${e.notAfter?.slice(0, 10)}`
      : e.state === 'expiring'
        ? `expires on ${e.notAfter?.slice(0, 10)}, in ${e.daysLeft} day(s) (within --warn-days ${warnDays})`
        : e.state === 'missing'
          ? 'is missing'
          : 'is not a readable certificate';

  // The root CA (one for the mesh).
  const root = expiry(`${CERTS_DIR}/root-cert.pem`);
  if (root.state !== 'ok') {
    act({
      problem:
        root.state === 'missing' || root.state === 'invalid'
          ? `the root CA (${root.file}) ${when(root)}; restore it from git, or create one (every intermediate must then be reissued)`
          : `the root CA (${root.file}) ${when(root)}; rotate it in four phases (add, then switch, finish, done: see the README)`,
      command:
        root.state === 'missing' || root.state === 'invalid'
          ? 'meshgen prep --mesh-id <id> --org <org>'
          : 'meshgen rotate-root --phase add && npm run synth',
    });
  }

  // Is the committed output current? synth --check --frozen, in memory.
  const dist = distState(workdir, mesh, await synthState(workdir, now));
  if (dist.current === false) {
    act({
      problem: `dist/ or sealed/ is not what synth produces (${dist.stale.length} item(s)); run synth where the private keys are, and commit dist/ and sealed/`,
      command: 'npm run synth',
    });
  } else if (dist.current === undefined) {
    act({ problem: `synth cannot run: ${dist.error}; validate lists every problem with its fix`, command: 'meshgen validate' });
  }

  const store = new SealedStore(workdir);
  const clusters: ClusterStatus[] = [];
  for (const c of mesh.clusters) {
    const intermediate = expiry(`${CERTS_DIR}/${c.name}/ca-cert.pem`);
    if (intermediate.state === 'missing') {
      act({
        cluster: c.name,
        problem: `no intermediate CA (${intermediate.file}); synth issues it where certs/root-key.pem is`,
        command: 'npm run synth',
      });
    } else if (intermediate.state !== 'ok') {
      act({
        cluster: c.name,
        problem: `the intermediate CA ${when(intermediate)}`,
        command: `meshgen rotate --cluster ${c.name} && npm run synth`,
      });
    }
    let sealingCert: CertExpiry | undefined;
    if (mesh.secrets.provider === 'sealed-secrets') {
      sealingCert = expiry(c.sealingCert);
      if (sealingCert.state !== 'ok') {
        act({
          cluster: c.name,
          problem: `the Sealed Secrets certificate (${sealingCert.file}) ${when(sealingCert)}`,
          command:
            `kubeseal --context ${c.context} --controller-name sealed-secrets --controller-namespace kube-system --fetch-cert > ${c.sealingCert} ` +
            '&& npm run synth',
        });
      }
    }
    const readerToken = readerTokenOf(workdir, mesh, c, store);
    if (readerToken.noServer && readerToken.primaries.length > 0) {
      act({
        cluster: c.name,
        problem: `no remote secret can point at it: server and certificateAuthorityData are not set in topology.yaml`,
        command: 'meshgen discover && npm run synth',
      });
    } else if (readerToken.missing.length > 0 || readerToken.stale.length > 0) {
      const list = [...readerToken.missing, ...readerToken.stale.map((p) => `${p} (stale)`)].join(', ');
      act({
        cluster: c.name,
        problem: readerToken.kept
          ? `its reader token is not sealed for ${list}; synth seals the token kept in ${tokenFile(c.name)}`
          : `its reader token is not sealed for ${list}; <file> holds ${READER_TOKEN_HINT}`,
        command: readerToken.kept ? 'npm run synth' : `meshgen seal-token --context ${c.context} --token-file <file> && npm run synth`,
      });
    }
    clusters.push({
      cluster: c.name,
      context: c.context,
      role: c.role === 'remote' ? `remote of ${c.primary}` : 'primary',
      network: c.network,
      installer: mesh.istio.installer,
      dataplane: mesh.istio.dataplane,
      intermediate,
      root,
      sealingCert,
      readerToken,
      distCurrent: dist.current === undefined ? undefined : !dist.byCluster.has(c.name),
      distStale: dist.byCluster.get(c.name) ?? [],
    });
  }
  return { warnDays, meshId: mesh.meshId, clusters, dist: { current: dist.current, stale: dist.stale, error: dist.error }, actions };
}

const READER_TOKEN_HINT =
  "the token of its Secret istio-system/istio-reader-service-account-istio-remote-secret-token once its control plane runs (kubectl -n istio-system get secret ... -o jsonpath='{.data.token}' | base64 -d)";

function certExpiry(workdir: string, file: string, now: Date, warnDays: number): CertExpiry {
  const text = readIfExists(path.resolve(workdir, file));
  if (text === undefined) return { file, state: 'missing' };
  const block = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(text);
  let notAfter: Date;
  try {
    if (!block) throw new Error('no certificate');
    notAfter = new Date(new crypto.X509Certificate(block[0]).validTo);
  } catch {
    return { file, state: 'invalid' };
  }
  const left = notAfter.getTime() - now.getTime();
  const daysLeft = Math.floor(left / DAY_MS);
  const state: CertState = left <= 0 ? 'expired' : left <= warnDays * DAY_MS ? 'expiring' : 'ok';
  return { file, state, notAfter: notAfter.toISOString(), daysLeft };
}

/** The fingerprint of a sealing certificate, as the sealed stores record it; undefined when unreadable. */
function sealingFingerprint(workdir: string, file: string): string | undefined {
  const text = readIfExists(path.resolve(workdir, file));
  const block = text && /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(text);
  if (!block) return undefined;
  try {
    return `sha256:${crypto.createHash('sha256').update(new crypto.X509Certificate(block[0]).raw).digest('hex')}`;
  } catch {
    return undefined;
  }
}

function readerTokenOf(workdir: string, mesh: Mesh, c: Cluster, store: SealedStore): ReaderTokenStatus {
  const primaries = mesh.clusters.filter((p) => remoteSecretPeers(mesh, p).some((x) => x.name === c.name)).map((p) => p.name);
  const kept = fs.existsSync(path.join(workdir, tokenFile(c.name)));
  const noServer = !c.server || !c.certificateAuthorityData;
  const base = { primaries, kept, noServer };
  if (mesh.secrets.provider === 'external-secrets') return { provider: 'external-secrets', ...base, sealedFor: [], missing: [], stale: [] };
  const sealedFor: string[] = [];
  const missing: string[] = [];
  const stale: string[] = [];
  const name = remoteSecretName(c.name);
  // What the sealed kubeconfig's public part (peer, server, CA) must fingerprint to, as synth checks it.
  const pub = noServer
    ? undefined
    : fingerprint(
        sealingLabel(ISTIO_NAMESPACE, name).toString(),
        `${c.name}\0public`,
        kubeconfigTemplate({ peer: c.name, server: c.server as string, certificateAuthorityData: c.certificateAuthorityData as string }, '<token>'),
      );
  for (const p of primaries) {
    const seals = store.load(p);
    const entry = seals.get(name, c.name);
    const holder = mesh.clusters.find((x) => x.name === p) as Cluster;
    if (!entry) missing.push(p);
    else if (entry.publicSha256 !== pub || !sameCert(seals.sealingCert, sealingFingerprint(workdir, holder.sealingCert))) stale.push(p);
    else sealedFor.push(p);
  }
  return { provider: 'sealed-secrets', ...base, sealedFor, missing, stale };
}

/** Whether a store was sealed with the current certificate (unknown, so not stale, when that certificate is unreadable). */
function sameCert(stored: string | undefined, current: string | undefined): boolean {
  return current === undefined || stored === current;
}

interface SynthState {
  readonly files?: Map<string, string>;
  readonly needs: { what: string; why: string }[];
  readonly sealedChanges: string[];
  readonly error?: string;
}

async function synthState(workdir: string, now: Date): Promise<SynthState> {
  const collect: SynthCollector = { files: new Map(), needs: [] };
  try {
    const r = await runSynth({ workdir, check: true, frozen: true, collect, now }, { keyModeWarnings: false });
    return { files: collect.files, needs: collect.needs, sealedChanges: [...r.diff.added, ...r.diff.changed, ...r.diff.removed] };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    const first = e.problems[0];
    const more = e.problems.length > 1 ? ` (and ${e.problems.length - 1} more)` : '';
    return { needs: [], sealedChanges: [], error: `${first.file}${first.path ? ` ${first.path}` : ''}: ${first.message}${more}` };
  }
}

/** What is stale, overall and per cluster: files of dist/ and sealed/ that synth would change, and its needs. */
function distState(
  workdir: string,
  mesh: Mesh,
  s: SynthState,
): { current?: boolean; stale: string[]; error?: string; byCluster: Map<string, string[]> } {
  const byCluster = new Map<string, string[]>();
  if (!s.files) return { current: undefined, stale: [], error: s.error, byCluster };
  const distRoot = currentTree(path.join(workdir, DIST_DIR));
  const old = fs.existsSync(distRoot) ? readTree(distRoot) : new Map<string, string>();
  const stale: string[] = [];
  for (const f of new Set([...old.keys(), ...s.files.keys()])) {
    if (old.get(f) !== s.files.get(f)) stale.push(`${DIST_DIR}/${f}`);
  }
  stale.sort();
  stale.push(...s.sealedChanges);
  stale.push(...s.needs.map((n) => `${n.what}: ${n.why}`));
  const names = new Set(mesh.clusters.map((c) => c.name));
  for (const item of stale) {
    const m = /^(?:dist\/(?:clusters|flux)\/([^/]+)\/|sealed\/([^/ .]+)\.yaml|certs\/([^/]+)\/)/.exec(item);
    const c = m?.[1] ?? m?.[2] ?? m?.[3];
    if (c === undefined || !names.has(c)) continue;
    byCluster.set(c, [...(byCluster.get(c) ?? []), item]);
  }
  return { current: stale.length === 0, stale, byCluster };
}

// ---------------------------------------------------------------------------------------------------------------------
// Output

/** The JSON document version of `meshgen status --output json`. */
export const STATUS_JSON_SCHEMA = 'meshgen.status/v1';

export function renderStatusJson(r: StatusResult): string {
  return `${JSON.stringify({ schema: STATUS_JSON_SCHEMA, needsAction: r.actions.length > 0, ...r }, null, 2)}\n`;
}

/** The table, then the actions (each with its command), then one summary line. */
export function renderStatusText(r: StatusResult): string {
  const date = (e: CertExpiry | undefined) => {
    if (!e) return 'n/a';
    if (e.state === 'missing') return 'MISSING';
    if (e.state === 'invalid') return 'INVALID';
    const d = e.notAfter?.slice(0, 10) ?? '';
    return e.state === 'expired' ? `${d} EXPIRED` : e.state === 'expiring' ? `${d} (${e.daysLeft}d)!` : d;
  };
  const token = (t: ReaderTokenStatus) => {
    if (t.provider === 'external-secrets') return 'n/a (PushSecret)';
    const n = `${t.sealedFor.length}/${t.primaries.length}`;
    const notes = [
      ...(t.missing.length > 0 ? [`missing: ${t.missing.join(', ')}`] : []),
      ...(t.stale.length > 0 ? [`stale: ${t.stale.join(', ')}`] : []),
    ];
    return notes.length > 0 ? `${n} (${notes.join('; ')})` : n;
  };
  const rows = [
    ['CLUSTER', 'ROLE', 'NETWORK', 'INSTALLER', 'DATA PLANE', 'INTERMEDIATE', 'ROOT', 'SEALING CERT', 'READER TOKEN SEALED FOR', 'DIST'],
    ...r.clusters.map((c) => [
      c.cluster,
      c.role,
      c.network,
      c.installer,
      c.dataplane,
      date(c.intermediate),
      date(c.root),
      date(c.sealingCert),
      token(c.readerToken),
      c.distCurrent === undefined ? 'unknown' : c.distCurrent ? 'current' : 'stale',
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const lines = rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
  if (r.actions.length > 0) {
    lines.push('', 'Needs action:');
    for (const a of r.actions) lines.push(`  ${a.cluster ? `${a.cluster}: ` : ''}${a.problem}`, `    run: ${a.command}`);
  }
  lines.push(
    '',
    r.actions.length === 0
      ? `status: ${r.clusters.length} cluster(s), nothing needs action (certificates valid for more than ${r.warnDays} days)`
      : `status: ${r.clusters.length} cluster(s), ${r.actions.length} thing(s) need action`,
  );
  return `${lines.join('\n')}\n`;
}
