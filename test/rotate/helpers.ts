/**
 * Helpers of the rotation tests: the CLI, openssl, and unsealing a cluster's `cacerts`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { type CliResult, runCli } from '../helpers/cli';
import { type SealedSecretObject, unsealSealedSecret } from '../helpers/unseal';
import { REPO_ROOT } from '../helpers/workdir';

export const OPENSSL = spawnSync('openssl', ['version'], { stdio: 'ignore' }).error === undefined;
export const NO_OPENSSL = OPENSSL ? false : 'openssl is not installed: certificate chains are not checked with `openssl verify`';

/** Runs `meshgen <args>` in-process. */
export async function meshgen(args: readonly string[]): Promise<CliResult> {
  return runCli(args);
}

/** Whether synth wires the multi-root settings into the control plane (see the report: synth.ts / charts). */
export const SYNTH_WIRED = fs.readFileSync(path.join(REPO_ROOT, 'src', 'commands', 'synth.ts'), 'utf8').includes('trustBundleFor');

/** `openssl verify -CAfile <caPem> [-untrusted <untrustedPem>] <certPem>`: ok and what openssl printed. */
export function opensslVerify(caPem: string, certPem: string, untrustedPem?: string): { ok: boolean; output: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-verify-'));
  try {
    const file = (name: string, text: string) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, text);
      return f;
    };
    const argv = ['verify', '-CAfile', file('ca.pem', caPem)];
    if (untrustedPem !== undefined) argv.push('-untrusted', file('untrusted.pem', untrustedPem));
    argv.push(file('cert.pem', certPem));
    const r = spawnSync('openssl', argv, { encoding: 'utf8' });
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The four files of a cluster's `cacerts` as its Sealed Secrets controller would decrypt them. */
export function unsealCacerts(workdir: string, cluster: string): Record<string, string> {
  const file = path.join(workdir, 'dist', 'clusters', cluster, 'secrets', 'cacerts.yaml');
  const doc = parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as SealedSecretObject | null)
    .find((o) => o?.kind === 'SealedSecret');
  if (!doc) throw new Error(`no SealedSecret in ${file}`);
  const key = fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'sealing-keys', `${cluster}.key`), 'utf8');
  const data = unsealSealedSecret(key, doc).data;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.toString('utf8')]));
}

/** `spec` of a cluster's merged control-plane IstioOperator (`istioctl/`, what the chart values are translated from). */
export function controlPlaneSpec(workdir: string, cluster: string): Record<string, any> {
  const file = path.join(workdir, 'dist', 'clusters', cluster, 'istioctl', 'control-plane.yaml');
  const doc = parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as { kind?: string; spec?: Record<string, any> } | null)
    .find((o) => o?.kind === 'IstioOperator');
  if (!doc?.spec) throw new Error(`no IstioOperator in ${file}`);
  return doc.spec;
}

/** The files of the control plane install of the example (helm): the istiod values and IstioOperator, the Flux releases. */
export const CONTROL_PLANE_FILES =
  /^dist\/(clusters\/[^/]+\/(helm\/istiod-values|istioctl\/control-plane)|flux\/[^/]+\/control-plane\/releases)\.yaml$/;

/** The paths that differ between two {@link hashTree} results, by kind. */
export function treeDiff(before: Map<string, string>, after: Map<string, string>): { added: string[]; changed: string[]; removed: string[] } {
  const added = [...after.keys()].filter((k) => !before.has(k)).sort();
  const removed = [...before.keys()].filter((k) => !after.has(k)).sort();
  const changed = [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k)).sort();
  return { added, changed, removed };
}
