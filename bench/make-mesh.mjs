#!/usr/bin/env node
// Writes a meshgen work directory for N clusters, ready for `meshgen synth`:
//   - `meshgen prep` (through the compiled CLI) for the root CA, base.yaml and .gitignore;
//   - topology.yaml: N contexts over K networks, each with `cluster`, `server` and `certificateAuthorityData`
//     (a real, parseable API-server CA certificate, different for every cluster);
//   - sealing-certs/<cluster>.pem: one Sealed Secrets controller certificate per cluster (RSA 4096). The certificates
//     are distinct (own serial, subject and fingerprint) but share one RSA key: sealing cost depends on the number of
//     values and the key size, not on how many keys there are, and 200 extra RSA-4096 keys would cost minutes;
//   - certs/<cluster>/reader-token (0600): a JWT-sized reader token per cluster, as `seal-token` keeps them, so the first
//     synth seals every remote-secret token.
//
// Usage: node bench/make-mesh.mjs --clusters 30 [--networks 3] [--dir DIR]   (prints the directory)
// Also imported by bench/run.mjs (makeMesh).
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const forge = require('node-forge');

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(REPO, 'bin', 'meshgen');
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const DAY = 24 * 3600 * 1000;

/** Zero-padded names so that sorting by name is sorting by index. */
export function contextName(i, n) {
  return `ctx-${String(i).padStart(Math.max(3, String(n - 1).length), '0')}`;
}
export function clusterName(i, n) {
  return `cluster-${String(i).padStart(Math.max(3, String(n - 1).length), '0')}`;
}
export function serverOf(i, n, port = 6443) {
  return `https://api.${clusterName(i, n)}.bench.example.com:${port}`;
}

/** Default number of networks for a mesh of n clusters (the sizes of the bench: 3→1, 30→3, 100→10, 200→20). */
export function defaultNetworks(n) {
  return n <= 3 ? 1 : Math.max(1, Math.round(n / 10));
}

function generateKey(bits) {
  return new Promise((resolve, reject) =>
    crypto.generateKeyPair('rsa', { modulusLength: bits, publicExponent: 0x10001 }, (err, publicKey, privateKey) =>
      err ? reject(err) : resolve({ publicKey, privateKey }),
    ),
  );
}

/**
 * A self-signed CA certificate: node-forge builds the TBSCertificate, Node's crypto signs it (forge's pure-JS RSA
 * signature costs ~200 ms per RSA-4096 certificate; native signing ~5 ms).
 */
function selfSigned(key, forgePublicKey, subject, days) {
  const cert = forge.pki.createCertificate();
  cert.version = 2;
  const serial = crypto.randomBytes(16);
  serial[0] &= 0x7f;
  serial[0] |= 0x01;
  cert.serialNumber = serial.toString('hex');
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - DAY);
  cert.validity.notAfter = new Date(now.getTime() + days * DAY);
  cert.publicKey = forgePublicKey;
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true, keyCertSign: true },
  ]);
  cert.md = forge.md.sha256.create();
  cert.signatureOid = SHA256_WITH_RSA;
  cert.siginfo.algorithmOid = SHA256_WITH_RSA;
  const tbs = forge.pki.getTBSCertificate(cert);
  cert.tbsCertificate = tbs;
  const tbsDer = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  cert.signature = crypto.sign('sha256', tbsDer, key.privateKey).toString('binary');
  return forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

/** A token shaped like a Kubernetes service-account JWT (~1 KB), unique per cluster. */
export function fakeToken(cluster, salt = '') {
  const header = b64url(JSON.stringify({ alg: 'RS256', kid: b64url(crypto.randomBytes(32)) }));
  const payload = b64url(
    JSON.stringify({
      iss: 'kubernetes/serviceaccount',
      'kubernetes.io/serviceaccount/namespace': 'istio-system',
      'kubernetes.io/serviceaccount/secret.name': 'istio-reader-service-account-istio-remote-secret-token',
      'kubernetes.io/serviceaccount/service-account.name': 'istio-reader-service-account',
      'kubernetes.io/serviceaccount/service-account.uid': crypto.randomUUID(),
      sub: 'system:serviceaccount:istio-system:istio-reader-service-account',
      cluster,
      salt,
    }),
  );
  return `${header}.${payload}.${b64url(crypto.randomBytes(256))}`;
}

function writePrivate(file, data) {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, data, { mode: 0o600 });
}

/** Runs the compiled CLI synchronously; throws with its output on a non-zero exit. */
export function runCli(args, { cli = CLI, ...opts } = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', ...opts });
  if (r.status !== 0) {
    throw new Error(`meshgen ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stdout}${r.stderr}`);
  }
  return r;
}

let sharedKeys;

/**
 * Writes a work directory for `clusters` clusters over `networks` networks.
 * `cli` is the meshgen entry point to run (default: bin/meshgen of this repository); `template` a directory where
 * `meshgen prep` already ran, whose root CA, base.yaml and .gitignore are copied instead of running prep again;
 * `keyAlgorithm` is written as `pki.keyAlgorithm` (default: none, i.e. rsa-4096).
 * @returns {{dir: string, clusters: number, networks: number, contexts: string[], names: string[]}}
 */
export async function makeMesh({ clusters, networks = defaultNetworks(clusters), dir, keySize = 4096, cli = CLI, template, keyAlgorithm }) {
  if (!Number.isInteger(clusters) || clusters < 1) throw new Error(`--clusters must be a positive integer, got ${clusters}`);
  if (!Number.isInteger(networks) || networks < 1 || networks > clusters) throw new Error(`--networks must be 1..${clusters}, got ${networks}`);
  const workdir = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `meshgen-bench-${clusters}-`));
  fs.mkdirSync(workdir, { recursive: true });

  // Root CA, base.yaml, .gitignore (and a topology.yaml that is replaced below): `meshgen prep`, or a copy of what an
  // earlier prep wrote in `template` (one root key for several meshes: RSA-4096 keygen is slow).
  if (template) {
    for (const f of ['base.yaml', '.gitignore', 'certs/root-cert.pem', 'certs/root-key.pem']) {
      if (!fs.existsSync(path.join(template, f))) continue;
      fs.mkdirSync(path.dirname(path.join(workdir, f)), { recursive: true, mode: 0o700 });
      fs.copyFileSync(path.join(template, f), path.join(workdir, f));
    }
  } else {
    const algorithm = keyAlgorithm ? ['--key-algorithm', keyAlgorithm] : [];
    runCli(['prep', '--mesh-id', 'bench-mesh', '--org', 'bench.example.com', '--key-size', String(keySize), ...algorithm, '--workdir', workdir], {
      cli,
    });
  }

  // Keys shared by the per-cluster certificates (see the header comment), generated once per process.
  sharedKeys ??= Promise.all([generateKey(4096), generateKey(2048)]);
  const [sealingKey, apiKey] = await sharedKeys;
  const sealingForge = forge.pki.publicKeyFromPem(sealingKey.publicKey.export({ type: 'spki', format: 'pem' }));
  const apiForge = forge.pki.publicKeyFromPem(apiKey.publicKey.export({ type: 'spki', format: 'pem' }));

  const contexts = [];
  const names = [];
  const lines = [
    '# yaml-language-server: $schema=schema/topology.schema.json',
    `# Benchmark mesh written by bench/make-mesh.mjs: ${clusters} clusters, ${networks} networks.`,
    'mesh_id: bench-mesh',
    'org: bench.example.com',
    'gitops:',
    '  repoURL: https://git.example.com/bench/mesh.git',
    ...(keyAlgorithm ? ['pki:', `  keyAlgorithm: ${keyAlgorithm}`] : []),
    'contexts:',
  ];
  for (let i = 0; i < clusters; i++) {
    const ctx = contextName(i, clusters);
    const name = clusterName(i, clusters);
    contexts.push(ctx);
    names.push(name);
    const network = `network-${String(i % networks).padStart(2, '0')}`;
    const apiCa = selfSigned(apiKey, apiForge, [{ shortName: 'CN', value: `kubernetes-${name}` }], 3650);
    lines.push(
      `  ${ctx}:`,
      `    network: ${network}`,
      `    cluster: ${name}`,
      `    server: ${serverOf(i, clusters)}`,
      `    certificateAuthorityData: ${Buffer.from(apiCa).toString('base64')}`,
    );
    const sealingCert = selfSigned(
      sealingKey,
      sealingForge,
      [
        { shortName: 'O', value: 'sealed-secret' },
        { shortName: 'CN', value: `sealed-secret-${name}` },
      ],
      3650,
    );
    fs.mkdirSync(path.join(workdir, 'sealing-certs'), { recursive: true });
    fs.writeFileSync(path.join(workdir, 'sealing-certs', `${name}.pem`), sealingCert);
    writePrivate(path.join(workdir, 'certs', name, 'reader-token'), `${fakeToken(name)}\n`);
  }
  fs.writeFileSync(path.join(workdir, 'topology.yaml'), `${lines.join('\n')}\n`);
  return { dir: workdir, clusters, networks, contexts, names };
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--clusters') out.clusters = Number(argv[++i]);
    else if (a === '--networks') out.networks = Number(argv[++i]);
    else if (a === '--dir') out.dir = path.resolve(argv[++i]);
    else if (a === '--key-size') out.keySize = Number(argv[++i]);
    else if (a === '--key-algorithm') out.keyAlgorithm = argv[++i];
    else if (a === '--template') out.template = path.resolve(argv[++i]);
    else if (a === '-h' || a === '--help') {
      process.stdout.write(
        'usage: node bench/make-mesh.mjs --clusters N [--networks K] [--dir DIR] [--key-size BITS] [--key-algorithm ALG] [--template PREPPED_DIR]\n',
      );
      process.exit(0);
    } else {
      process.stderr.write(`make-mesh: unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  if (out.clusters === undefined) {
    process.stderr.write('make-mesh: --clusters N is required\n');
    process.exit(2);
  }
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const m = await makeMesh(parseArgs(process.argv.slice(2)));
  process.stdout.write(`${m.dir}\n`);
}
