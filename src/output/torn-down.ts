import * as path from 'node:path';
import { parse } from 'yaml';
import { renderKustomization } from './render';

/** The committed marker of a torn-down mesh (`meshgen teardown`), in the work directory. */
export const TEARDOWN_FILE = 'teardown.yaml';

/**
 * A file of the torn-down tree, from the same file of the installed tree: every kustomization.yaml under
 * `clusters/` keeps only its subdirectories, every manifest there is dropped; the HelmReleases
 * (`flux/<cluster>/{control-plane,gateway}/`) are dropped so that Flux uninstalls the charts (the ApplicationSet of a
 * torn-down mesh has no chart sources: synth writes it so); the ApplicationSet and the Flux Kustomizations stay.
 * Undefined: the file is not in the torn-down tree.
 */
export function tornDownFile(rel: string, content: string): string | undefined {
  const isKustomization = path.posix.basename(rel) === 'kustomization.yaml';
  if (rel.startsWith('clusters/')) return isKustomization ? renderKustomization(subdirectories(content)) : undefined;
  if (/^flux\/[^/]+\/(control-plane|gateway)\//.test(rel)) return isKustomization ? renderKustomization([]) : undefined;
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
