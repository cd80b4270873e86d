import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Document, isMap, isPair, isScalar, isSeq, LineCounter, parse, parseAllDocuments } from 'yaml';
import { ISTIOCTL_DIR } from '../charts/cluster-chart';
import { CheckFailed, InputError, type Problem } from '../errors';
import { READ_LIMITS, readBounded, readIfExists } from '../fs-util';
import { FluxKustomizations } from '../gitops/flux-kustomizations';
import { withWorkdirLock } from '../lock';
import { HEADER, MARKDOWN_HEADER } from '../output/render';
import { currentTree } from '../output/tree';
import { CERTS_DIR, CertStore, certificateInfo, parseCertificate } from '../pki';
import { hasUrlCredentials, plainSecretIn } from '../plain-secrets';
import { crdDirectory, SchemaRegistry, type ValidationResult } from '../schemas/crd-validator';
import { loadMeshSealingCerts } from '../secrets/mesh-certs';
import { loadSealingCert, type SealingCert, sealingCertFix } from '../secrets/sealing-cert';
import { formatWarning, loadBase, loadTopology } from '../topology/load';
import type { Mesh } from '../topology/model';
import { isRecord } from '../util/records';
import { DIST_DIR, runSynth } from './synth';

/** Certificates expiring within this many days are reported unless `warnDays` says otherwise. */
export const DEFAULT_WARN_DAYS = 30;

/** The `--warn-days` of validate and status, checked: whole days from 0 to 36500, else an InputError (exit 2). */
export function checkWarnDays(days: number | undefined): number {
  const d = days ?? DEFAULT_WARN_DAYS;
  if (!Number.isInteger(d) || d < 0 || d > 36500) {
    throw new InputError({
      file: 'command line',
      path: '--warn-days',
      message: Number.isNaN(d) ? 'is not a number' : `${d} is not supported`,
      fix: `use a number of days from 0 to 36500 (default ${DEFAULT_WARN_DAYS})`,
    });
  }
  return d;
}

/** Options of {@link validate}. */
export interface ValidateOptions {
  /** The work directory holding topology.yaml, base.yaml, certs/, sealing-certs/, sealed/ and dist/. */
  readonly workdir: string;
  /**
   * Report certificates that expire within this many days (an integer from 0 to 36500).
   * @default 30
   */
  readonly warnDays?: number;
  /**
   * Directory of CRD YAML (and `k8s-schemas/`) to validate the manifests of dist/ against, relative to the current
   * directory.
   * @default - `$MESHGEN_CRDS`, else the schemas that ship with meshgen (`schemas/crds/` of the meshgen package)
   */
  readonly crds?: string;
  /**
   * The current time, for certificate expiry.
   * @default - now
   */
  readonly now?: Date;
}

/** What {@link validate} looked at. */
export interface ValidateStats {
  /** Certificates parsed and checked for expiry: the root, each intermediate, each distinct sealing certificate. */
  readonly certificates: number;
  /** Files under dist/. */
  readonly files: number;
  /** Kubernetes objects in those files (kustomization.yaml files excluded). */
  readonly objects: number;
  /** Objects validated against a schema (a CRD or a core Kubernetes schema). */
  readonly manifests: number;
}

/** The outcome of {@link validate}. */
export interface ValidateResult {
  /** Everything wrong, one problem each; validation failed when not empty. */
  readonly problems: Problem[];
  /** Input that works but is probably not what was meant (base.yaml, synth's warnings); does not fail validation. */
  readonly warnings: string[];
  /** Checks that were skipped, and why; do not fail validation. */
  readonly notes: string[];
  readonly stats: ValidateStats;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const REGENERATE = 'run `npm run synth` and commit the result';

/**
 * Checks a work directory without changing it: topology.yaml and base.yaml; the root CA, each cluster's intermediate
 * CA (chain, CA flags, key match, copies) and each sealing certificate, including expiry within `warnDays`; and every
 * file under dist/: its generated-by header, its schema, the kustomization.yaml lists, no plaintext private key or
 * token, and that it is exactly what `synth --check --frozen` would produce.
 *
 * Missing or malformed input is reported as problems, not thrown (a file that exists but cannot be read is still an
 * I/O error). Returns every problem found, in the order of the checks; the work directory is not changed.
 */
export async function validate(opts: ValidateOptions): Promise<ValidateResult> {
  const warnDays = checkWarnDays(opts.warnDays);
  return withWorkdirLock(opts.workdir, 'meshgen validate', 'shared', () => validateLocked({ ...opts, warnDays }));
}

async function validateLocked(opts: ValidateOptions): Promise<ValidateResult> {
  const workdir = path.resolve(opts.workdir);
  const warnDays = opts.warnDays ?? DEFAULT_WARN_DAYS; // checked by validate()
  const v = new Validation(workdir, opts.now ?? new Date(), warnDays);

  // 1. Inputs.
  const mesh = v.capture('topology.yaml has problems', () => loadTopology(workdir));
  const base = v.capture('base.yaml has problems', () => loadBase(workdir));
  if (base) v.warnings.push(...base.warnings.map(formatWarning));

  // 2. Certificates. 3. Sealing certificates.
  v.checkCertificates(mesh);
  v.checkSealingCerts(mesh);

  // 4. dist/ on its own: headers, schemas, kustomizations, secrets.
  const distExists = v.checkDist(opts.crds);

  // dist/ against what synth would produce, when the inputs let synth run.
  await v.compareWithSynth(distExists);

  return { problems: dedupe(v.problems), warnings: [...new Set(v.warnings)], notes: v.notes, stats: v.stats };
}

/** The state of one validation run. */
class Validation {
  public readonly problems: Problem[] = [];
  public readonly warnings: string[] = [];
  public readonly notes: string[] = [];
  public readonly stats = { certificates: 0, files: 0, objects: 0, manifests: 0 };
  /** Why synth cannot be compared with dist/ (inputs synth would refuse), if so. */
  private blocked: string[] = [];
  /** The directory dist/ is read from (see {@link checkDist}). */
  private distRoot = '';
  /** A CRD file turned out not to parse: no more schema checks. */
  private schemasUnreadable = false;

  constructor(
    private readonly workdir: string,
    private readonly now: Date,
    private readonly warnDays: number,
  ) {}

  /** Runs a loader; its InputError becomes problems (and blocks the synth comparison with `why`). */
  public capture<T>(why: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      this.problems.push(...e.problems);
      this.block(why);
      return undefined;
    }
  }

  public checkCertificates(mesh: Mesh | undefined): void {
    const store = new CertStore(this.workdir);
    // Private keys (and kept tokens) readable by group or others.
    this.problems.push(...store.privateFileModeProblems());
    const rootFile = `${CERTS_DIR}/root-cert.pem`;
    const rootText = readIfExists(path.join(this.workdir, rootFile));
    let rootPem: string | undefined;
    if (rootText === undefined) {
      this.problems.push({
        file: rootFile,
        message: 'the root CA is missing',
        fix: 'run `meshgen prep --mesh-id <id> --org <org>`, or restore it from git',
      });
      this.block('the root CA is missing');
    } else {
      // readRoot checks that the certificate parses and is a CA, and that root-key.pem (where present) matches it.
      this.capture('the root CA has problems', () => store.readRoot());
      const cert = parseCertificate(rootText);
      if (!(cert instanceof Error)) {
        rootPem = rootText;
        const info = certificateInfo(rootText);
        this.stats.certificates += 1;
        if (info.keyAlgorithm === undefined) {
          this.problems.push({
            file: rootFile,
            message: `the root CA's key (${info.keyDescription}) is not one meshgen signs with: RSA or ECDSA P-256 / P-384 keys only`,
            fix: 'create a root with `meshgen prep --force [--key-algorithm ecdsa-p256]` (every intermediate must then be reissued)',
          });
        }
        this.checkValidity(rootFile, 'the root CA', info.notBefore, info.notAfter, {
          expiring:
            'rotate the root CA as the README describes (root rotation): every cluster must trust the new root before the old one expires, ' +
            'then every intermediate is reissued under it',
          notYetValid: 'check the clock of the machine that created it, or create it again with `meshgen prep --force`',
        });
      }
    }

    // The mesh's clusters; without a readable topology, every certs/<dir>/ holding a ca-cert.pem.
    const clusters = mesh ? mesh.clusters.map((c) => c.name) : intermediateDirs(path.join(this.workdir, CERTS_DIR));
    // Intermediates of another algorithm than pki.keyAlgorithm work (a mixed mesh is fine): one note, no problem.
    const otherAlgorithm: string[] = [];
    for (const cluster of clusters) {
      const dir = `${CERTS_DIR}/${cluster}`;
      const certFile = `${dir}/ca-cert.pem`;
      const caCertPem = readIfExists(path.join(this.workdir, certFile));
      if (caCertPem === undefined) {
        this.problems.push({
          file: certFile,
          message: `is missing, so cluster ${cluster} has no intermediate CA (and no cacerts in dist/)`,
          fix: `run \`npm run synth\` where ${CERTS_DIR}/root-key.pem is present (it issues the intermediate), and commit ${dir}/ (ca-key.pem stays git-ignored)`,
        });
        this.block(`the intermediate CA of ${cluster} is missing`);
        continue;
      }
      const cert = parseCertificate(caCertPem);
      if (rootPem !== undefined) {
        // Chain to the root, CA flags, key match where ca-key.pem is present, cert-chain.pem and root-cert.pem copies.
        this.capture(`the intermediate CA of ${cluster} has problems`, () => store.readIntermediate(cluster, rootPem));
      } else if (cert instanceof Error) {
        this.problems.push({ file: certFile, message: `is not a valid PEM certificate (${cert.message})`, fix: 'restore it from git' });
      }
      if (cert instanceof Error) continue;
      const info = certificateInfo(caCertPem);
      this.stats.certificates += 1;
      if (mesh && info.keyAlgorithm !== mesh.pki.keyAlgorithm) otherAlgorithm.push(`${cluster} (${info.keyDescription})`);
      const rotate = `run \`meshgen rotate --cluster ${cluster}\` to issue a new intermediate CA for ${cluster}, then \`npm run synth\` and commit`;
      this.checkValidity(certFile, `the intermediate CA of ${cluster}`, info.notBefore, info.notAfter, {
        expiring: rotate,
        notYetValid: `check the clock of the machine that issued it, or ${rotate}`,
      });
    }
    if (mesh && otherAlgorithm.length > 0) {
      this.notes.push(
        `intermediate CAs whose key is not ${mesh.pki.keyAlgorithm} (pki.keyAlgorithm), kept as they are: ${otherAlgorithm.join(', ')}; ` +
          '`meshgen rotate --cluster <name>` (or --all) reissues them with the configured algorithm',
      );
    }
  }

  public checkSealingCerts(mesh: Mesh | undefined): void {
    if (mesh !== undefined && mesh.secrets.provider !== 'sealed-secrets') return;
    // A certificate file may be shared by several clusters: its expiry is reported once, naming them all.
    const loaded = new Map<string, { cert: SealingCert; users: string[]; fix: string }>();
    if (mesh) {
      for (const c of mesh.clusters) {
        const certs = this.capture(`the sealing certificate of ${c.name} has problems`, () =>
          loadMeshSealingCerts(this.workdir, mesh, this.now, [c]),
        );
        const cert = certs?.get(c.name);
        if (!cert) continue;
        const file = path.relative(this.workdir, path.resolve(this.workdir, c.sealingCert)).split(path.sep).join('/');
        const entry = loaded.get(file);
        if (entry) entry.users.push(c.name);
        else loaded.set(file, { cert, users: [c.name], fix: sealingCertFix(c.sealingCert, c.context, c.name) });
      }
    } else {
      // Without a topology, the certificates at their default place.
      const dir = path.join(this.workdir, 'sealing-certs');
      const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.pem')) : [];
      for (const f of files.sort()) {
        const file = `sealing-certs/${f}`;
        const cert = this.capture('sealing certificates have problems', () =>
          loadSealingCert(
            readBounded(path.join(dir, f), { limit: READ_LIMITS.pem, display: file, what: 'the sealing certificate' }),
            { file },
            this.now,
          ),
        );
        if (cert) loaded.set(file, { cert, users: [path.basename(f, '.pem')], fix: sealingCertFix(file) });
      }
    }
    for (const [file, { cert, users, fix }] of loaded) {
      this.stats.certificates += 1;
      this.checkValidity(file, `the Sealed Secrets certificate of ${users.join(', ')}`, undefined, cert.notAfter, {
        expiring:
          `${fix}, then \`npm run synth\` to reseal and commit (the controller renews its key every 30 days by default; ` +
          'if its certificate itself is about to expire, let the controller generate a new key first)',
      });
    }
  }

  /**
   * Checks every file under dist/ on its own. Returns whether dist/ exists. After a synth killed in the middle of its
   * swap, the tree read is the one the next synth keeps (see `currentTree`); files are still named `dist/...`.
   */
  public checkDist(crds: string | undefined): boolean {
    const distRoot = currentTree(path.join(this.workdir, DIST_DIR));
    this.distRoot = distRoot;
    if (!fs.existsSync(distRoot)) {
      this.problems.push({ file: `${DIST_DIR}/`, message: 'does not exist', fix: REGENERATE });
      return false;
    }
    const registry = this.schemaRegistry(crds);
    const noSchema = new Map<string, number>();
    const walk = (rel: string) => {
      const abs = this.absOf(rel);
      const entries = fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        const file = `${rel}/${e.name}`;
        if (e.isDirectory()) {
          walk(file);
          continue;
        }
        if (!e.isFile()) {
          this.problems.push({
            file,
            message: 'is a symlink or special file; meshgen writes only regular files under dist/',
            fix: `remove it, then ${REGENERATE}`,
          });
          this.block(`${file} is not a regular file`);
          continue;
        }
        this.stats.files += 1;
        const text = fs.readFileSync(this.absOf(file), 'utf8');
        // Markdown (README.md, not a manifest): the same line as an HTML comment.
        const markdown = e.name.endsWith('.md');
        if (!text.startsWith(markdown ? MARKDOWN_HEADER : HEADER)) {
          this.problems.push({
            file,
            line: 1,
            message: `does not start with the "${markdown ? '<!-- ' : '# '}Generated by meshgen ..." header line, so meshgen did not write it`,
            fix: `remove it if it was added by hand, else ${REGENERATE}`,
          });
        }
        this.problems.push(...secretProblems(file, text));
        if (e.name === 'kustomization.yaml') this.checkKustomization(file, text);
        else if (HELM_VALUES_FILE.test(file)) this.checkValuesFile(file, text);
        else if (/\.ya?ml$/.test(e.name)) this.checkManifests(file, text, registry, noSchema);
      }
    };
    walk(DIST_DIR);
    if (noSchema.size > 0) {
      const kinds = [...noSchema].map(([k, n]) => `${k} (${n})`).join(', ');
      this.notes.push(`no schema for ${kinds}: those objects were checked for apiVersion, kind and metadata.name only`);
    }
    return true;
  }

  /** Compares dist/ and sealed/ with what `synth --check --frozen` would produce, unless the inputs make synth fail. */
  public async compareWithSynth(distExists: boolean): Promise<void> {
    if (this.blocked.length > 0) {
      this.notes.push(`dist/ was not compared with what synth produces: ${this.blocked.join('; ')} (fix those first)`);
      return;
    }
    try {
      // The shared lock is held (validate): synth without taking it again; key modes are reported as problems above.
      const r = await runSynth({ workdir: this.workdir, check: true, frozen: true, now: this.now }, { keyModeWarnings: false });
      this.warnings.push(...r.warnings);
      const dist = `${DIST_DIR}/`;
      for (const file of r.diff.changed) {
        this.problems.push({ file, message: 'differs from what synth produces (edited by hand?)', fix: REGENERATE });
      }
      for (const file of r.diff.added) {
        if (!distExists && file.startsWith(dist)) continue;
        this.problems.push({
          file,
          message: 'is missing: it differs from what synth produces, which writes this file (deleted by hand?)',
          fix: REGENERATE,
        });
      }
      for (const file of r.diff.removed) {
        this.problems.push({
          file,
          message: 'differs from what synth produces, which does not write this file (added by hand, or left over?)',
          fix: `${REGENERATE} (synth deletes it)`,
        });
      }
    } catch (e) {
      if (e instanceof InputError) this.problems.push(...e.problems);
      else if (e instanceof CheckFailed) this.problems.push(...needsOf(e));
      else throw e;
    }
  }

  /** The file of a `dist/...` path, in the tree read (see {@link checkDist}); other paths are in the work directory. */
  private absOf(rel: string): string {
    if (rel === DIST_DIR || rel.startsWith(`${DIST_DIR}/`)) return path.join(this.distRoot, rel.slice(DIST_DIR.length));
    return path.join(this.workdir, rel);
  }

  private block(why: string): void {
    if (!this.blocked.includes(why)) this.blocked.push(why);
  }

  /** Expired, expiring within warnDays, or (with notBefore) not valid yet. */
  private checkValidity(
    file: string,
    what: string,
    notBefore: Date | undefined,
    notAfter: Date,
    fix: { expiring: string; notYetValid?: string },
  ): void {
    const left = notAfter.getTime() - this.now.getTime();
    if (left <= 0) {
      const ago = Math.floor(-left / DAY_MS);
      this.problems.push({ file, message: `${what} expired on ${isoDate(notAfter)} (${plural(ago, 'day')} ago)`, fix: fix.expiring });
    } else if (left <= this.warnDays * DAY_MS) {
      const days = Math.ceil(left / DAY_MS);
      this.problems.push({
        file,
        message: `${what} expires on ${isoDate(notAfter)}, in ${plural(days, 'day')} (within --warn-days ${this.warnDays})`,
        fix: fix.expiring,
      });
    }
    if (notBefore !== undefined && fix.notYetValid !== undefined && notBefore.getTime() > this.now.getTime()) {
      this.problems.push({ file, message: `${what} is not valid before ${isoDate(notBefore)}`, fix: fix.notYetValid });
    }
  }

  private schemaRegistry(crds: string | undefined): SchemaRegistry | undefined {
    let dir: string | undefined;
    let reason: string | undefined;
    if (crds !== undefined && crds !== '') {
      dir = path.resolve(crds);
      if (!isDirectory(dir)) {
        reason = `--crds / MESHGEN_CRDS ${crds}: ${dir} is not a directory`;
        dir = undefined;
      }
    } else {
      ({ dir, reason } = crdDirectory()); // MESHGEN_CRDS, else the schemas/crds/ meshgen ships
    }
    if (dir === undefined) {
      this.notes.push(`schema checks were skipped: ${reason ?? 'no CRD directory'}`);
      return undefined;
    }
    try {
      return loadRegistry(dir);
    } catch (e) {
      this.notes.push(`schema checks were skipped: the CRDs in ${dir} cannot be read (${(e as Error).message})`);
      return undefined;
    }
  }

  private checkManifests(file: string, text: string, registry: SchemaRegistry | undefined, noSchema: Map<string, number>): void {
    const lineCounter = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
    for (const doc of Array.isArray(docs) ? docs : []) {
      if (doc.errors.length > 0) {
        for (const err of doc.errors) {
          const pos = lineCounter.linePos(err.pos[0]);
          this.problems.push({ file, line: pos.line, col: pos.col, message: `YAML syntax error: ${err.message.split('\n')[0]}`, fix: REGENERATE });
        }
        continue;
      }
      if (doc.contents === null) continue;
      this.stats.objects += 1;
      if (registry === undefined || this.schemasUnreadable) continue;
      const obj: unknown = doc.toJS();
      let result: ValidationResult;
      try {
        result = registry.validate(obj);
      } catch (e) {
        // A CRD document is parsed when its kind is first validated (see SchemaRegistry.load).
        this.schemasUnreadable = true;
        this.notes.push(`schema checks were skipped from ${file} on: the CRDs cannot be read (${(e as Error).message})`);
        continue;
      }
      const { schema, errors, problems } = result;
      if (schema !== undefined) this.stats.manifests += 1;
      else if (errors.length === 0 && isRecord(obj)) {
        const key = `${String(obj.apiVersion)} ${String(obj.kind)}`;
        noSchema.set(key, (noSchema.get(key) ?? 0) + 1);
      }
      const what = isRecord(obj) && isRecord(obj.metadata) ? `${String(obj.kind)} ${String(obj.metadata.name)}` : 'the object';
      for (const p of problems) {
        this.problems.push({
          file,
          line: locate(doc, lineCounter, p.segments),
          path: p.path,
          message: `${p.message} (${what}, schema ${schema ?? 'basic Kubernetes object checks'})`,
          fix: `${REGENERATE}; if synth writes it this way, please report it as a meshgen bug`,
        });
      }
    }
  }

  /** A Helm values file (`dist/clusters/<cluster>/helm/<chart>-values.yaml`, read by Argo CD as `$values`): a YAML mapping. */
  private checkValuesFile(file: string, text: string): void {
    let data: unknown;
    try {
      data = parse(text);
    } catch (e) {
      this.problems.push({ file, message: `YAML syntax error: ${String((e as Error).message).split('\n')[0]}`, fix: REGENERATE });
      return;
    }
    if (!isRecord(data)) this.problems.push({ file, message: 'is not a mapping of Helm values', fix: REGENERATE });
  }

  /**
   * The subdirectories of `dirRel` that its kustomization.yaml rightly leaves out: what is applied by other means (the
   * Flux Kustomizations of `dist/flux/<cluster>/kustomizations.yaml` apply its subdirectories by path) or not at all
   * (`helm/` values files read by Argo CD; `istioctl/` IstioOperators, the input of `istioctl install -f`).
   */
  private notListed(dirRel: string): Set<string> {
    const out = new Set<string>();
    const parts = dirRel.split('/');
    if (parts.length === 3 && parts[0] === DIST_DIR && parts[1] === 'clusters') {
      out.add('helm');
      out.add(ISTIOCTL_DIR);
    }
    if (parts.length === 3 && parts[0] === DIST_DIR && parts[1] === 'flux') {
      try {
        for (const d of parseAllDocuments(fs.readFileSync(path.join(this.absOf(dirRel), FluxKustomizations.FILE), 'utf8'))) {
          const p = (d.toJS() as { spec?: { path?: unknown } } | null)?.spec?.path;
          const m = typeof p === 'string' ? new RegExp(`/flux/${parts[2]}/([^/]+)/?$`).exec(p) : null;
          if (m) out.add(m[1]);
        }
      } catch {
        // Reported where that file is checked.
      }
    }
    return out;
  }

  /** A kustomization.yaml must list exactly the YAML files and the subdirectories (with a kustomization.yaml) beside it. */
  private checkKustomization(file: string, text: string): void {
    const dirRel = path.posix.dirname(file);
    const dirAbs = this.absOf(dirRel);
    const lineCounter = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
    const doc = Array.isArray(docs) ? docs.find((d) => d.contents !== null || d.errors.length > 0) : undefined;
    if (doc && doc.errors.length > 0) {
      const pos = lineCounter.linePos(doc.errors[0].pos[0]);
      this.problems.push({
        file,
        line: pos.line,
        col: pos.col,
        message: `YAML syntax error: ${doc.errors[0].message.split('\n')[0]}`,
        fix: REGENERATE,
      });
      return;
    }
    const data: unknown = doc?.toJS();
    if (!isRecord(data) || data.kind !== 'Kustomization' || !Array.isArray(data.resources ?? [])) {
      this.problems.push({
        file,
        message: 'is not a kustomize Kustomization with a resources: list',
        fix: REGENERATE,
      });
      return;
    }
    const listed = ((data.resources ?? []) as unknown[]).map((r) => (typeof r === 'string' ? r.replace(/^\.\//, '').replace(/\/+$/, '') : String(r)));
    const present = new Set<string>();
    for (const e of fs.readdirSync(dirAbs, { withFileTypes: true })) {
      if (e.isDirectory()) present.add(e.name);
      else if (/\.ya?ml$/.test(e.name) && e.name !== 'kustomization.yaml') present.add(e.name);
    }
    const seen = new Set<string>();
    for (const r of listed) {
      if (seen.has(r)) {
        this.problems.push({ file, path: 'resources', message: `lists ${JSON.stringify(r)} twice`, fix: REGENERATE });
        continue;
      }
      seen.add(r);
      if (!present.has(r)) {
        this.problems.push({
          file,
          path: 'resources',
          message: `lists ${JSON.stringify(r)}, which is not in ${dirRel}/ (kustomize build fails)`,
          fix: REGENERATE,
        });
      } else if (!/\.ya?ml$/.test(r) && !fs.existsSync(path.join(dirAbs, r, 'kustomization.yaml'))) {
        this.problems.push({
          file,
          path: 'resources',
          message: `lists the directory ${JSON.stringify(r)}, which has no kustomization.yaml (kustomize build fails)`,
          fix: REGENERATE,
        });
      }
    }
    const notListed = this.notListed(dirRel);
    for (const p of [...present].sort()) {
      if (!seen.has(p) && !notListed.has(p)) {
        this.problems.push({
          file,
          path: 'resources',
          message: `does not list ${JSON.stringify(p)}, which is in ${dirRel}/ (Argo CD and Flux would not apply it)`,
          fix: REGENERATE,
        });
      }
    }
  }
}

/** A Helm values file of a cluster directory. */
const HELM_VALUES_FILE = /^[^/]+\/clusters\/[^/]+\/helm\/[a-z0-9-]+-values\.yaml$/;

function locate(doc: Document, lineCounter: LineCounter, at: readonly (string | number)[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = (doc.contents as { range?: [number, number, number] } | null)?.range?.[0];
  for (const seg of at) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      offset = (pair.key as { range?: [number, number, number] } | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
      node = node.items[seg];
      offset = (node as { range?: [number, number, number] } | null)?.range?.[0] ?? offset;
    } else break;
  }
  return offset === undefined ? undefined : lineCounter.linePos(offset).line;
}

const PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----/;
const JWT = /eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/;
const BASE64_RUN = /[A-Za-z0-9+/]{24,}={0,2}/g;

/** Plaintext private keys and tokens, also when base64-encoded once (Secret data, kubeconfig *-data fields). */
function secretProblems(file: string, text: string): Problem[] {
  const out: Problem[] = [];
  const lines = text.split('\n');
  lines.forEach((lineText, i) => {
    const line = i + 1;
    let url: string | undefined;
    const found = (s: string): 'key' | 'jwt' | 'url' | undefined => {
      if (PRIVATE_KEY.test(s)) return 'key';
      if (JWT.test(s)) return 'jwt';
      const secret = hasUrlCredentials(s) ? plainSecretIn(s) : undefined;
      url = secret?.shown;
      return secret ? 'url' : undefined;
    };
    let kind = found(lineText);
    let encoded = false;
    if (kind === undefined) {
      for (const m of lineText.matchAll(BASE64_RUN)) {
        kind = found(Buffer.from(m[0], 'base64').toString('latin1'));
        if (kind !== undefined) {
          encoded = true;
          break;
        }
      }
    }
    const how = encoded ? 'base64-encoded (not sealed) ' : 'plaintext ';
    if (kind === 'key') {
      out.push({
        file,
        line,
        message: `holds a ${how}private key; nothing secret may be written under dist/ unsealed`,
        fix: 'remove it (and from the git history if it was committed), and replace the key: whoever can read the repository has it',
      });
    } else if (kind === 'jwt') {
      out.push({
        file,
        line,
        message: `holds what looks like a ${how}token (a JWT); nothing secret may be written under dist/ unsealed`,
        fix:
          'remove it (and from the git history if it was committed), revoke the token (delete its Secret in the cluster), ' +
          'and seal the new one with `meshgen seal-token`',
      });
    } else if (kind === 'url') {
      out.push({
        file,
        line,
        message: `holds a ${encoded ? 'base64-encoded ' : ''}URL with credentials (${url}); nothing secret may be written under dist/ unsealed`,
        fix: 'remove the credentials from the URL in topology.yaml / base.yaml (and from the git history if it was committed), rotate them, and run `npm run synth`',
      });
    }
  });
  return out;
}

/** The `  <what>: <why>` lines of synth's --frozen CheckFailed, as problems. */
function needsOf(e: CheckFailed): Problem[] {
  const fix = 'run `npm run synth` where certs/root-key.pem and the private keys are present, and commit the result';
  const needs = e.needs.map((n): Problem => {
    // `what` is a file, optionally followed by what in it (`sealed/c.yaml cacerts/ca-key.pem`).
    const [file, ...inFile] = n.what.split(' ');
    return {
      file,
      path: inFile.length > 0 ? inFile.join(' ') : undefined,
      message: `${n.why}: synth would have to seal or create keys, so dist/ is not what synth produces`,
      fix,
    };
  });
  return needs.length > 0 ? needs : [{ file: `${DIST_DIR}/`, message: e.message, fix }];
}

const registries = new Map<string, SchemaRegistry>();

/** Loading the CRDs takes a second or two: keep one registry per directory for the life of the process. */
function loadRegistry(dir: string): SchemaRegistry {
  let r = registries.get(dir);
  if (r === undefined) {
    r = SchemaRegistry.load(dir);
    registries.set(dir, r);
  }
  return r;
}

function intermediateDirs(certsDir: string): string[] {
  if (!isDirectory(certsDir)) return [];
  return fs
    .readdirSync(certsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(certsDir, e.name, 'ca-cert.pem')))
    .map((e) => e.name)
    .sort();
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = JSON.stringify([p.file, p.line, p.col, p.path, p.message, p.fix]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function isoDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
