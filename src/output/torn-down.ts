import * as path from 'node:path';
import { parse } from 'yaml';
import { renderKustomization } from './render';

/** The committed marker of a torn-down mesh (`meshgen teardown`), in the work directory. */
export const TEARDOWN_FILE = 'teardown.yaml';

/**
 * A file of the torn-down tree, from the same file of the installed tree: every kustomization.yaml under
 * `clusters/` keeps only its subdirectories, every manifest there is dropped; Istio's chart Applications
 * (`argocd/charts/`) and HelmReleases (`flux/<cluster>/helm/`) are dropped so that Argo CD / Flux uninstall the
 * charts; the ApplicationSet and the Flux Kustomizations stay. Undefined: the file is not in the torn-down tree.
 */
export function tornDownFile(rel: string, content: string): string | undefined {
  const isKustomization = path.posix.basename(rel) === 'kustomization.yaml';
  if (rel.startsWith('clusters/')) return isKustomization ? renderKustomization(subdirectories(content)) : undefined;
  if (rel.startsWith('argocd/charts/')) return undefined;
  if (rel === 'argocd/kustomization.yaml') return renderKustomization(resources(content).filter((r) => !r.startsWith('charts/')));
  if (/^flux\/[^/]+\/helm\//.test(rel)) return isKustomization ? renderKustomization([]) : undefined;
  return content;
}

function resources(kustomization: string): string[] {
  let r: unknown;
  try {
    r = (parse(kustomization) as { resources?: unknown })?.resources;
  } catch {
    return [];
  }
  return Array.isArray(r) ? r.filter((x): x is string => typeof x === 'string') : [];
}

function subdirectories(kustomization: string): string[] {
  return resources(kustomization).filter((r) => !/\.ya?ml$/.test(r));
}
