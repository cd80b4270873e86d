import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiObject, App, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { CACERTS_KEYS, CaCerts, type CaCertsKey } from './charts/ca-certs';
import { ClusterChart, type ClusterSecrets, type SealedRemoteSecret, STAGES, Stage } from './charts/cluster-chart';
import { CheckFailed, InputError } from './errors';
import { removeStaleTempFiles } from './fs-util';
import { FluxKustomizations, type FluxStage } from './gitops/flux-kustomizations';
import { MeshApplicationSet } from './gitops/mesh-application-set';
import { helmValuesFiles, IstioArgoApplications } from './installers/argocd-applications';
import { ISTIO_CHARTS, type IstioChart, IstioControlPlaneReleases, IstioGatewayRelease } from './installers/helm-releases';
import { type Logger, quietLogger } from './log';
import { renderKustomization, renderManifests } from './output/render';
import { TEARDOWN_FILE, tornDownFile } from './output/torn-down';
import { recoverTree, type TreeDiff, TreeWriter } from './output/tree';
import { CertStore, type IntermediatePublic, trustBundleFor } from './pki';
import { loadMeshSealingCerts } from './secrets/mesh-certs';
import { SEALED_DIR, SealedStore } from './secrets/sealed-store';
import { type Need, Sealer } from './secrets/sealer';
import type { SealingCert } from './secrets/sealing-cert';
import { readKeptToken } from './secrets/tokens';
import { type BaseOperator, loadBase, loadTopology, TOPOLOGY_FILE, type Warning } from './topology/load';
import { type Cluster, type Mesh, remoteSecretName, remoteSecretPeers, type SecretStore } from './topology/model';

/** The output directory, relative to the work directory. */
export const DIST_DIR = 'dist';

/** Options of a synth run. */
export interface SynthOptions {
  /** The work directory holding topology.yaml, base.yaml, certs/ and sealed/. */
  readonly workdir: string;
  /** Write nothing; report what would change. */
  readonly check?: boolean;
  /** Never create keys or seal; fail if something needs it. */
  readonly frozen?: boolean;
  /** Fail (rather than warn) when remote secrets are omitted because tokens are not sealed yet. */
  readonly strict?: boolean;
  /**
   * RSA key size of intermediate CAs created by this run.
   * @default 4096
   */
  readonly caKeySize?: number;
  /**
   * Validity in days of intermediate CAs created by this run.
   * @default 3650
   */
  readonly caDays?: number;
  /** The current time (sealing-certificate expiry). */
  readonly now?: Date;
  /** Progress and warnings. */
  readonly log?: Logger;
}

/** What a synth run did (or, with `check`, would do). */
export interface SynthResult {
  /** Changes to `dist/` and `sealed/`, paths relative to the work directory. */
  readonly diff: TreeDiff;
  /** Clusters whose intermediate CA was created. */
  readonly createdIntermediates: readonly string[];
  /** Number of values sealed in this run. */
  readonly sealed: number;
  /** Warnings printed. */
  readonly warnings: readonly string[];
}

/**
 * Validates the inputs, creates missing intermediate CAs, seals what changed, and writes `dist/` and `sealed/`
 * (inputs → model → constructs → files).
 */
export async function synth(opts: SynthOptions): Promise<SynthResult> {
  const log = opts.log ?? quietLogger();
  const workdir = path.resolve(opts.workdir);
  // A torn-down mesh (teardown.yaml) needs no key and no sealing: its tree has no secret.
  const tornDown = fs.existsSync(path.join(workdir, TEARDOWN_FILE));
  const noWork = Boolean(opts.frozen || opts.check || tornDown);
  const distRoot = path.join(workdir, DIST_DIR);
  if (!opts.check) {
    recoverTree(distRoot);
    removeStaleTempFiles(path.join(workdir, SEALED_DIR));
    removeStaleTempFiles(path.join(workdir, 'certs'));
  }

  // 1. Inputs.
  const mesh = loadTopology(workdir);
  const base = loadBase(workdir);
  const warnings: string[] = base.warnings.map(formatWarning);
  const certStore = new CertStore(workdir);
  const root = certStore.readRoot();
  if (!root) {
    throw new InputError({ file: 'certs/root-cert.pem', message: 'the root CA is missing', fix: 'run `meshgen prep --mesh-id <id> --org <org>`' });
  }

  // 2. Intermediate CAs.
  const needs: Need[] = [];
  const missingCa = mesh.clusters.filter((c) => !fs.existsSync(path.join(workdir, 'certs', c.name, 'ca-cert.pem')));
  if (noWork) {
    for (const c of missingCa) needs.push({ what: `certs/${c.name}/`, why: `the intermediate CA of ${c.name} does not exist yet` });
  }
  const org = mesh.org ?? organisationOf(root.certPem);
  const { created, intermediates } = await certStore.ensureIntermediates(
    mesh.clusters.filter((c) => !noWork || !missingCa.includes(c)).map((c) => c.name),
    {
      org,
      keySize: opts.caKeySize,
      days: opts.caDays,
      allowCreate: !noWork,
      onProgress: (done, total) => log.progress(`creating intermediate CAs: ${done}/${total}`),
    },
  );
  if (created.length > 0) log.info(`created intermediate CAs (RSA keys in certs/<cluster>/ca-key.pem): ${created.join(', ')}`);
  const trust = trustBundleFor(workdir);
  if (trust.phase !== 'none') log.info(`root CA rotation in phase ${trust.phase} (certs/rotation.yaml): multi-root trust is on`);

  // 3. Cluster by cluster: secrets (sealed offline reusing committed ciphertext, or read by the External Secrets
  // Operator) → constructs → files, compared with dist/ as they come, so memory holds one cluster at a time.
  const noServer = new Map<string, Cluster>();
  const peersOf = (cluster: Cluster) =>
    remoteSecretPeers(mesh, cluster).filter((peer) => {
      if (peer.server && peer.certificateAuthorityData) return true;
      noServer.set(peer.name, peer);
      return false;
    });
  const sealing =
    mesh.secrets.provider === 'sealed-secrets'
      ? new Sealing({ workdir, mesh, intermediates, noWork, now: opts.now, needs, peersOf, write: !opts.check && !tornDown })
      : undefined;
  const treeWriter = new TreeWriter(distRoot, !opts.check);
  const writer = {
    add(rel: string, content: string): void {
      const c = tornDown ? tornDownFile(rel, content) : content;
      if (c !== undefined) treeWriter.add(rel, c);
    },
  };
  if (tornDown) log.info(`${TEARDOWN_FILE} is present: writing the torn-down tree (delete it and synth to install the mesh again)`);
  try {
    const clusters: Cluster[] = [];
    const helm = new Map<string, NonNullable<ClusterChart['helm']>>();
    for (const cluster of mesh.clusters) {
      const secrets: ClusterSecrets | undefined = sealing
        ? sealing.secretsOf(cluster)
        : {
            provider: 'external-secrets',
            store: cluster.secretStore as SecretStore,
            prefix: mesh.secrets.prefix,
            remoteSecrets: peersOf(cluster).map((peer) => ({
              peer,
              server: peer.server as string,
              certificateAuthorityData: peer.certificateAuthorityData as string,
            })),
          };
      if (!secrets) continue;
      clusters.push(cluster);
      const chart = new ClusterChart(new App({ outdir: distRoot }), cluster.name, {
        mesh,
        cluster,
        base: base.spec,
        secrets,
        multiRoot: trust.multiRoot,
      });
      const dir = `clusters/${cluster.name}`;
      const files = chart.files();
      for (const [file, objects] of files) writer.add(`${dir}/${file}`, renderManifests(objects));
      const stages = STAGES.filter((stage) => [...files.keys()].some((f) => f.startsWith(`${stage}/`)));
      for (const stage of stages) {
        const inStage = [...files.keys()].filter((f) => f.startsWith(`${stage}/`)).map((f) => f.slice(stage.length + 1));
        writer.add(`${dir}/${stage}/kustomization.yaml`, renderKustomization(inStage));
      }
      writer.add(`${dir}/kustomization.yaml`, renderKustomization(stages));
      if (chart.helm) {
        helm.set(cluster.name, chart.helm);
        // Values files of Istio's charts, read by the Argo CD Applications (not manifests: not in kustomization.yaml).
        for (const [file, content] of helmValuesFiles(chart.helm)) writer.add(`${dir}/${file}`, content);
      }
    }
    if (sealing) warnings.push(...sealing.finish(opts.strict));
    if (noServer.size > 0) {
      warnings.push(
        `remote secrets for ${[...noServer.keys()].sort().join(', ')} are omitted: server and certificateAuthorityData are not set in ${TOPOLOGY_FILE}; ` +
          'run `meshgen discover` or set them',
      );
    }
    if (needs.length > 0 && !tornDown) {
      const flag = opts.check ? '--check' : '--frozen';
      throw new CheckFailed(
        [
          `${flag}: these need new keys or sealing, which ${flag} does not do:`,
          ...needs.map((n) => `  ${n.what}: ${n.why}`),
          'Run `npm run synth` where certs/root-key.pem and the private keys are present, and commit the result.',
        ].join('\n'),
      );
    }
    warnings.push(...translationWarnings(helm));
    for (const [file, content] of gitopsFiles(new App({ outdir: distRoot }), mesh, clusters, helm, warnings)) writer.add(file, content);

    // 4. Compare or write: sealed/ first (dist/ is derived from it), then the swap of dist/. With external-secrets
    // nothing is sealed: stale files of sealed/ are removed.
    const store = new SealedStore(workdir);
    const existing = new Set(store.list());
    // A torn-down mesh leaves sealed/ as it is: its ciphertext is what a later reinstall reuses.
    const toSave = sealing && !tornDown ? sealing.dirty() : [];
    const storeDiff: TreeDiff = {
      added: toSave.filter((c) => !existing.has(c)).map((c) => SealedStore.fileOf(c)),
      changed: toSave.filter((c) => existing.has(c)).map((c) => SealedStore.fileOf(c)),
      removed: tornDown ? [] : [...existing].filter((c) => !sealing || !mesh.clusters.some((m) => m.name === c)).map((c) => SealedStore.fileOf(c)),
    };
    const distDiff = treeWriter.diff();
    const diff: TreeDiff = {
      added: [...storeDiff.added, ...distDiff.added.map((p) => `${DIST_DIR}/${p}`)],
      changed: [...storeDiff.changed, ...distDiff.changed.map((p) => `${DIST_DIR}/${p}`)],
      removed: [...storeDiff.removed, ...distDiff.removed.map((p) => `${DIST_DIR}/${p}`)],
    };
    for (const w of warnings) log.warn(w);
    if (!opts.check) {
      sealing?.commit();
      for (const p of storeDiff.removed) store.remove(path.basename(p, '.yaml'));
      treeWriter.commit();
    }
    return { diff, createdIntermediates: created, sealed: sealing?.sealed ?? 0, warnings };
  } finally {
    treeWriter.discard();
    sealing?.discard();
  }
}

interface SealingContext {
  readonly workdir: string;
  readonly mesh: Mesh;
  readonly intermediates: Map<string, IntermediatePublic>;
  readonly noWork: boolean;
  readonly now?: Date;
  readonly needs: Need[];
  /** Write the changed stores (as pending files until commit); false with --check. */
  readonly write: boolean;
  /** The peers a cluster holds remote secrets for that have a server and CA. */
  readonly peersOf: (cluster: Cluster) => Cluster[];
}

/**
 * The sealed-secrets provider, one cluster at a time: reuses the committed ciphertext of `sealed/`, seals what
 * changed (a new intermediate, a new token, a new sealing certificate), and keeps the stores that changed.
 */
class Sealing {
  /** Values sealed so far. */
  public sealed = 0;
  private readonly certs: Map<string, SealingCert>;
  private readonly store: SealedStore;
  private readonly tokens = new Map<string, string | undefined>();
  private readonly unsealedTokens = new Map<string, Cluster>();
  /** Clusters whose store changed; with `write`, each is already written as a pending file. */
  private readonly changed: string[] = [];

  constructor(private readonly ctx: SealingContext) {
    this.certs = loadMeshSealingCerts(ctx.workdir, ctx.mesh, ctx.now ?? new Date());
    this.store = new SealedStore(ctx.workdir);
  }

  /** The sealed secrets of a cluster, or undefined when its cacerts cannot be had here (a Need is recorded). */
  public secretsOf(cluster: Cluster): ClusterSecrets | undefined {
    const { mesh, intermediates, noWork, needs } = this.ctx;
    const cs = this.store.load(cluster.name);
    const sealer = new Sealer(cs, this.certs.get(cluster.name) as SealingCert, noWork, needs);

    // cacerts: the fingerprint of the key is that of the certificate it belongs to (the key/cert match is
    // checked when the intermediate is read), so CI can tell the committed ciphertext is current without the key.
    const ca = intermediates.get(cluster.name);
    const cacerts = {} as Record<CaCertsKey, string>;
    if (ca) {
      const files: Record<CaCertsKey, { fp: string; plain: string | undefined }> = {
        'ca-cert.pem': { fp: ca.caCertPem, plain: ca.caCertPem },
        'ca-key.pem': { fp: ca.caCertPem, plain: ca.caKeyPem },
        'cert-chain.pem': { fp: ca.certChainPem, plain: ca.certChainPem },
        'root-cert.pem': { fp: ca.rootCertPem, plain: ca.rootCertPem },
      };
      for (const key of CACERTS_KEYS) {
        const v = sealer.resolve(CaCerts.NAME, key, files[key].fp, files[key].plain);
        if (v === undefined && !noWork) {
          throw new InputError({
            file: `certs/${cluster.name}/ca-key.pem`,
            message: `is absent, and cacerts of ${cluster.name} must be (re)sealed`,
            fix: `run synth where certs/${cluster.name}/ca-key.pem is present, or delete certs/${cluster.name}/ to issue a new intermediate`,
          });
        }
        if (v !== undefined) cacerts[key] = v;
      }
    }

    const remoteSecrets: SealedRemoteSecret[] = [];
    for (const peer of this.ctx.peersOf(cluster)) {
      const token = this.tokenOf(peer);
      const sealedToken = sealer.resolve(remoteSecretName(peer.name), peer.name, token, token);
      if (sealedToken === undefined) {
        if (token === undefined) this.unsealedTokens.set(peer.name, peer);
        continue;
      }
      remoteSecrets.push({ peer, server: peer.server as string, certificateAuthorityData: peer.certificateAuthorityData as string, sealedToken });
    }
    const wanted = new Set([CaCerts.NAME, ...remoteSecretPeers(mesh, cluster).map((p) => remoteSecretName(p.name))]);
    cs.retain((secret) => wanted.has(secret));
    this.sealed += sealer.sealed;
    if (cs.dirty) {
      this.changed.push(cluster.name);
      if (this.ctx.write) this.store.savePending(cs);
    }
    return ca && Object.keys(cacerts).length === CACERTS_KEYS.length ? { provider: 'sealed-secrets', cacerts, remoteSecrets } : undefined;
  }

  /** The clusters whose store changed. */
  public dirty(): readonly string[] {
    return this.changed;
  }

  /** Puts the changed stores in place. */
  public commit(): void {
    if (!this.ctx.write) return;
    for (const c of this.changed) this.store.commitPending(c);
    this.changed.length = 0;
  }

  /** Drops the changed stores (the run failed). */
  public discard(): void {
    for (const c of this.changed) this.store.discardPending(c);
  }

  /** After the last cluster: the warning about tokens not sealed yet (an error with `strict`). */
  public finish(strict?: boolean): string[] {
    if (this.unsealedTokens.size === 0) return [];
    const list = [...this.unsealedTokens.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    const msg =
      `remote secrets for ${list.map((c) => c.name).join(', ')} are omitted until their reader tokens are sealed; for each, run: ` +
      list.map((c) => `meshgen seal-token --context ${c.context} --token-file <file>`).join('; ');
    if (strict) throw new CheckFailed(`--strict: ${msg}`);
    return [msg];
  }

  private tokenOf(c: Cluster): string | undefined {
    if (!this.tokens.has(c.name)) this.tokens.set(c.name, readKeptToken(this.ctx.workdir, c.name));
    return this.tokens.get(c.name);
  }
}

/**
 * The Argo CD and Flux entry points, by file: the ApplicationSet of the cluster directories and, with the helm and
 * sail installers, each cluster's Applications of Istio's charts (`dist/argocd/`, with a kustomization.yaml so one
 * "app of apps" can apply the whole directory); each cluster's Flux Kustomizations and, with helm and sail, its
 * HelmRepository and HelmReleases (`dist/flux/<cluster>/`).
 */
function gitopsFiles(
  app: App,
  mesh: Mesh,
  clusters: readonly Cluster[],
  helm: ReadonlyMap<string, NonNullable<ClusterChart['helm']>>,
  warnings: string[],
): Map<string, string> {
  const out = new Map<string, string>();
  const { gitops, istio } = mesh;
  const render = (chart: Chart) => renderManifests(apiObjectsOf(chart));
  const chartsOf = (c: Cluster): IstioChart[] => {
    const h = helm.get(c.name);
    return h ? ISTIO_CHARTS.filter((chart) => h[chart] !== undefined) : [];
  };
  // Without a repository URL there can be no ApplicationSet (Flux needs none: it names its GitRepository).
  if (gitops.repoURL !== undefined) {
    const repoURL = gitops.repoURL;
    let targets = clusters;
    if (gitops.generator === 'list') {
      const noServer = clusters.filter((c) => c.server === undefined);
      if (noServer.length > 0) {
        warnings.push(
          `the Argo CD ApplicationSet leaves out ${noServer.map((c) => c.name).join(', ')}: no server in ${TOPOLOGY_FILE}; run \`meshgen discover\` or set it`,
        );
      }
      targets = clusters.filter((c) => c.server !== undefined);
    }
    const files: string[] = [MeshApplicationSet.FILE];
    const chart = new Chart(app, 'argocd', { disableResourceNameHashes: true });
    new MeshApplicationSet(chart, 'ApplicationSet', {
      meshId: mesh.meshId,
      clusters: targets,
      gitops: { ...gitops, repoURL },
      // Istio's CRDs come with the base chart (or Sail): the cluster Applications may sync before they exist.
      skipDryRunOnMissingResource: istio.installer !== 'operator',
    });
    out.set(`argocd/${MeshApplicationSet.FILE}`, render(chart));
    for (const c of targets.filter((t) => chartsOf(t).length > 0 && t.server !== undefined)) {
      const apps = new Chart(app, `argocd-charts-${c.name}`, { disableResourceNameHashes: true });
      new IstioArgoApplications(apps, 'Applications', {
        meshId: mesh.meshId,
        cluster: c.name,
        server: c.server as string,
        gitops: { ...gitops, repoURL },
        charts: chartsOf(c),
        version: istio.version,
        revision: istio.revision,
      });
      const file = `charts/${c.name}.yaml`;
      out.set(`argocd/${file}`, render(apps));
      files.push(file);
    }
    out.set('argocd/kustomization.yaml', renderKustomization(files));
  }
  for (const c of clusters) {
    const values = helm.get(c.name);
    const cluster = `${gitops.path}/clusters/${c.name}`;
    const fluxDir = `${gitops.path}/flux/${c.name}`;
    const stages: FluxStage[] = [{ name: 'istio-secrets', path: `${cluster}/${Stage.SECRETS}`, waitForCacerts: true }];
    if (istio.installer !== 'helm') stages.push({ name: 'istio-control-plane', path: `${cluster}/${Stage.CONTROL_PLANE}` });
    if (values && (values.istiod || values.gateway)) {
      // Flux-only objects stay out of the cluster directory, which Argo CD applies as a whole.
      const releases = new Chart(app, `flux-helm-${c.name}`, { disableResourceNameHashes: true });
      new IstioFluxReleases(releases, 'Releases', { values, version: istio.version, revision: istio.revision });
      out.set(`flux/${c.name}/helm/releases.yaml`, render(releases));
      out.set(`flux/${c.name}/helm/kustomization.yaml`, renderKustomization(['releases.yaml']));
      stages.push({ name: istio.installer === 'helm' ? 'istio-control-plane' : 'istio-gateway', path: `${fluxDir}/helm` });
    }
    stages.push({ name: 'istio-post-install', path: `${cluster}/${Stage.POST_INSTALL}` });
    const chart = new Chart(app, `flux-${c.name}`, { disableResourceNameHashes: true });
    new FluxKustomizations(chart, 'Kustomizations', { stages, gitops });
    out.set(`flux/${c.name}/${FluxKustomizations.FILE}`, render(chart));
    out.set(`flux/${c.name}/kustomization.yaml`, renderKustomization([FluxKustomizations.FILE]));
  }
  return out;
}

/** Flux HelmRepository and HelmReleases of a cluster's charts (base and istiod with helm; the gateway with both). */
class IstioFluxReleases extends Construct {
  constructor(scope: Construct, id: string, props: { values: NonNullable<ClusterChart['helm']>; version?: string; revision?: string }) {
    super(scope, id);
    const { values, version, revision } = props;
    if (values.base && values.istiod) {
      new IstioControlPlaneReleases(this, 'ControlPlane', { base: values.base, istiod: values.istiod, version, revision });
      if (values.gateway) new IstioGatewayRelease(this, 'Gateway', { gateway: values.gateway, version, revision });
    } else if (values.gateway) {
      new IstioGatewayRelease(this, 'Gateway', { gateway: values.gateway, version, revision, withoutIstiodRelease: true });
    }
  }
}

/** One warning per untranslatable IstioOperator field, naming the clusters it concerns. */
function translationWarnings(helm: ReadonlyMap<string, NonNullable<ClusterChart['helm']>>): string[] {
  const byProblem = new Map<string, string[]>();
  for (const [cluster, h] of helm) {
    for (const p of h.problems) {
      const key = `${p.path}: ${p.message}; fix: ${p.fix}`;
      byProblem.set(key, [...(byProblem.get(key) ?? []), cluster]);
    }
  }
  return [...byProblem].map(([k, cs]) => `base.yaml ${k} (clusters: ${cs.join(', ')})`);
}

function apiObjectsOf(scope: Construct): unknown[] {
  return scope.node
    .findAll()
    .filter((c): c is ApiObject => ApiObject.isApiObject(c))
    .map((o) => o.toJson());
}

/** The O= of a certificate's subject: intermediates get the root's organisation unless topology sets `org`. */
function organisationOf(certPem: string): string {
  const subject = new X509Certificate(certPem).subject;
  const o = subject.split('\n').find((l) => l.startsWith('O='));
  return o ? o.slice(2) : 'Istio';
}

function formatWarning(w: Warning): string {
  return `${w.file}${w.line ? `:${w.line}` : ''}: ${w.path ? `${w.path}: ` : ''}${w.message}`;
}

export type { BaseOperator, IntermediatePublic };
