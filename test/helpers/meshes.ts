/**
 * The meshes the convergence matrix and the ambient tests synthesize: the topologies of Istio's multicluster guides.
 */
import type { MeshSpec } from './mesh-gen';

/** Sidecar meshes: multi-primary on one and two networks, primary-remote with remotes on and off the primary's network, mixed. */
export const SIDECAR_MESHES: Readonly<Record<string, MeshSpec>> = {
  'multi-primary, one network': {
    meshId: 'mesh1',
    repoURL: 'https://git.example/mesh.git',
    clusters: [
      { context: 'east-1', cluster: 'east-1', network: 'net1' },
      { context: 'east-2', cluster: 'east-2', network: 'net1' },
    ],
  },
  'multi-primary, two networks': {
    meshId: 'mesh1',
    repoURL: 'https://git.example/mesh.git',
    clusters: [
      { context: 'east-1', cluster: 'east-1', network: 'net1' },
      { context: 'east-2', cluster: 'east-2', network: 'net1' },
      { context: 'west-1', cluster: 'west-1', network: 'net2' },
    ],
  },
  'primary-remote: a remote on the primary network and one on another': {
    meshId: 'mesh1',
    repoURL: 'https://git.example/mesh.git',
    clusters: [
      { context: 'main', cluster: 'main', network: 'net1', address: '10.0.0.1' },
      { context: 'near', cluster: 'near', network: 'net1', role: 'remote', primary: 'main' },
      { context: 'far', cluster: 'far', network: 'net2', role: 'remote', primary: 'main' },
    ],
  },
  'mixed: two primaries, remotes of one': {
    meshId: 'mesh1',
    repoURL: 'https://git.example/mesh.git',
    clusters: [
      { context: 'p1', cluster: 'p1', network: 'net1', address: '10.0.0.1' },
      { context: 'p2', cluster: 'p2', network: 'net2' },
      { context: 'r1', cluster: 'r1', network: 'net1', role: 'remote', primary: 'p1' },
      { context: 'r2', cluster: 'r2', network: 'net2', role: 'remote', primary: 'p1' },
    ],
  },
};

/**
 * The canary upgrade walk's mesh: two primaries on two networks, each serving a remote (p1's on the other network, so
 * that it has an east-west gateway of its own; p2's on p2's network).
 */
export const UPGRADE_MESH: MeshSpec = {
  meshId: 'mesh1',
  repoURL: 'https://git.example/mesh.git',
  clusters: [
    { context: 'p1', cluster: 'p1', network: 'net1', address: '10.0.0.1' },
    { context: 'p2', cluster: 'p2', network: 'net2', address: '10.0.0.2' },
    { context: 'r1', cluster: 'r1', network: 'net2', role: 'remote', primary: 'p1' },
    { context: 'r2', cluster: 'r2', network: 'net2', role: 'remote', primary: 'p2' },
  ],
};

/** Istio's ambient multicluster: multi-primary, multi-network (the beta topology). */
export const AMBIENT_MESH: MeshSpec = SIDECAR_MESHES['multi-primary, two networks'];
