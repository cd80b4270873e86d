#!/usr/bin/env node
// meshgen benchmark: `npm run bench` (or `node bench/run.mjs [options]`). See bench/README.md.
//
// For each mesh size it builds a work directory (bench/make-mesh.mjs), runs the compiled CLI as a child process
// (`node bin/meshgen synth --workdir DIR`) for: the first synth (intermediate CA keys + sealing every value), re-synths
// with no change, re-synths after one context's `server` changed, a synth that must seal every remote-secret token
// again, and `seal-token` for one cluster; it times the plain `yaml` writer of the same objects (bench/plain-writer.mjs)
// interleaved with the no-change re-synths, and prints one markdown table with absolute times and the ratios.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { clusterName, contextName, defaultNetworks, fakeToken, makeMesh, REPO, runCli, serverOf } from './make-mesh.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PLAIN = path.join(HERE, 'plain-writer.mjs');
const TIME = '/usr/bin/time';
const CORES = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
const FULL_SIZES = [3, 30, 100, 200];
const QUICK_SIZES = [3, 30];
const NETWORKS = { 3: 1, 30: 3, 100: 10, 200: 20 };
// Peak RSS without /usr/bin/time: a preload that reports process.resourceUsage().maxRSS (KiB) when the process exits.
// (Not a MESHGEN_* variable: meshgen reads every MESHGEN_<NAME> as --<name> and rejects unknown ones.)
const RSS_HOOK =
  'data:text/javascript,import fs from "node:fs";process.on("exit",()=>fs.writeFileSync(process.env.BENCH_PEAK_RSS_FILE,String(process.resourceUsage().maxRSS)))';

// ---------------------------------------------------------------------------------------------------------------- options

const USAGE = `usage: node bench/run.mjs [options]
  --sizes 3,30,100,200   mesh sizes (clusters) to run; networks: 3→1, 30→3, 100→10, 200→20, else clusters/10
  --quick                fast smoke run (< 1 minute): sizes 3 and 30, 2 reps, RSA-2048 intermediates,
                         no keygen comparison unless --keys
  --reps N               repetitions of the no-change / plain-writer / one-change runs (median; default 3, 2 with --quick)
  --keys N               RSA-4096 keys for the node-vs-openssl keygen comparison (default 8; none with --quick)
  --ca-key-size BITS     RSA size of the intermediate CAs the first synth creates (default 4096; 2048 with --quick)
  --ecdsa-sizes 200      sizes at which a first synth with pki.keyAlgorithm ecdsa-p256 (ECDSA root and intermediates)
                         is timed beside the RSA one, same run (default: the largest size; none: --ecdsa-sizes none)
  --profile              also profile one no-change re-synth of the largest size with node --cpu-prof and summarize it
  --keep                 keep the work directories (and the profile) and print where they are
  --no-time              measure peak RSS with process.resourceUsage() even when /usr/bin/time exists
`;

function parseOptions(argv) {
  const o = {
    sizes: undefined,
    quick: false,
    reps: undefined,
    keys: undefined,
    caKeySize: undefined,
    ecdsaSizes: undefined,
    profile: false,
    keep: false,
    useTime: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--sizes') {
      o.sizes = value()
        .split(',')
        .map((s) => Number(s.trim()));
      if (o.sizes.length === 0 || o.sizes.some((n) => !Number.isInteger(n) || n < 1)) fail('--sizes wants positive integers, e.g. 3,30');
    } else if (a === '--quick') o.quick = true;
    else if (a === '--reps') o.reps = positive(a, value());
    else if (a === '--keys') o.keys = positive(a, value());
    else if (a === '--ca-key-size') o.caKeySize = positive(a, value());
    else if (a === '--ecdsa-sizes') {
      const v = value();
      o.ecdsaSizes = v === 'none' ? [] : v.split(',').map((s) => positive(a, s.trim()));
    } else if (a === '--profile') o.profile = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--no-time') o.useTime = false;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else fail(`unknown option ${a}`);
  }
  o.sizes ??= o.quick ? QUICK_SIZES : FULL_SIZES;
  o.keys ??= o.quick ? 0 : 8;
  o.reps ??= o.quick ? 2 : 3;
  o.caKeySize ??= o.quick ? 2048 : 4096;
  o.ecdsaSizes ??= [Math.max(...o.sizes)];
  for (const n of o.ecdsaSizes) if (!o.sizes.includes(n)) fail(`--ecdsa-sizes ${n} is not among --sizes ${o.sizes.join(',')}`);
  return o;
}

function positive(name, v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`${name} wants a positive integer, got ${v}`);
  return n;
}

function fail(msg) {
  process.stderr.write(`bench: ${msg}\n${USAGE}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------------------------- helpers

const t0 = performance.now();
function log(msg) {
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sec = (ms) => (ms === undefined || Number.isNaN(ms) ? 'n/a' : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`);
const mib = (kib) => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`);
const ratio = (a, b) => (a === undefined || b === undefined || !b ? 'n/a' : `${(a / b).toFixed(2)}×`);
const int = (n) => n.toLocaleString('en-US');

let seq = 0;
let tmpRoot;
let useTime = true;
/** The CLI that is measured: a snapshot of lib/ and bin/ taken at start (others may rebuild lib/ while the bench runs). */
let CLI;
let LIB;
let BUILD_INFO = '';

/**
 * Copies the compiled CLI (bin/, lib/, schema/, package.json) into the bench directory, with a node_modules symlink, so
 * that every run of one bench measures the same build even if lib/ is rebuilt meanwhile.
 */
function snapshotCli() {
  const dest = path.join(tmpRoot, 'meshgen');
  for (const d of ['bin', 'lib', 'schema']) {
    if (fs.existsSync(path.join(REPO, d))) fs.cpSync(path.join(REPO, d), path.join(dest, d), { recursive: true });
  }
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(dest, 'package.json'));
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dest, 'node_modules'), 'dir');
  CLI = path.join(dest, 'bin', 'meshgen');
  LIB = path.join(dest, 'lib');
}

/** The commit, whether src/ differs from it, and when lib/ was built: what the numbers belong to. */
function buildInfo() {
  const git = (...a) => spawnSync('git', a, { cwd: REPO, encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD').stdout?.trim() || 'unknown';
  const dirty = (git('status', '--porcelain', '--', 'src').stdout ?? '').trim() !== '';
  let built = 'unknown';
  try {
    built = fs
      .statSync(path.join(REPO, 'lib', 'src', 'commands', 'synth.js'))
      .mtime.toISOString()
      .slice(0, 19);
  } catch {}
  return `commit ${head}${dirty ? ' (src/ modified)' : ''}, lib/ built ${built}Z`;
}

/**
 * Runs `node <args>` as a child process; resolves to its whole-process wall time (ms), peak RSS (KiB), output and exit
 * code. Peak RSS comes from /usr/bin/time -f %M, else from a preload reporting process.resourceUsage().maxRSS.
 */
function runNode(args, { env, input, allowFail = false } = {}) {
  const rssFile = path.join(tmpRoot, `rss-${++seq}.txt`);
  let cmd;
  let cmdArgs;
  const childEnv = { ...process.env, ...env };
  if (useTime) {
    cmd = TIME;
    cmdArgs = ['-f', '%M', '-o', rssFile, process.execPath, ...args];
  } else {
    cmd = process.execPath;
    cmdArgs = ['--import', RSS_HOOK, ...args];
    childEnv.BENCH_PEAK_RSS_FILE = rssFile;
  }
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, cmdArgs, { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = performance.now() - start;
      let rss;
      try {
        const lines = fs.readFileSync(rssFile, 'utf8').trim().split('\n');
        rss = Number(lines[lines.length - 1]);
        if (!Number.isFinite(rss)) rss = undefined;
        fs.rmSync(rssFile, { force: true });
      } catch {
        rss = undefined;
      }
      const r = { ms, rss, stdout, stderr, code: code ?? signal };
      if (code !== 0 && !allowFail) {
        reject(new Error(`node ${args.join(' ')} exited ${code ?? signal}:\n${stdout}${stderr}`));
      } else resolve(r);
    });
    child.stdin.end(input ?? '');
  });
}

/** Runs an external command (no RSS); resolves to its wall time. */
function runCmd(cmd, args) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - start) : reject(new Error(`${cmd} ${args.join(' ')}: ${stderr}`))));
  });
}

const synth = (dir, extra = []) => runNode([...extra, CLI, 'synth', '--workdir', dir]);

function parseWrote(stdout) {
  const m = /wrote (\d+) new, (\d+) changed, removed (\d+) file\(s\)(?:; sealed (\d+) value\(s\))?/.exec(stdout);
  return m ? { added: +m[1], changed: +m[2], removed: +m[3], sealed: +(m[4] ?? 0) } : undefined;
}

// ---------------------------------------------------------------------------------------------------------------- keygen

/** RSA-4096 keygen: Node's async crypto.generateKeyPair for n keys at once on `CORES` threads vs openssl genrsa, `CORES` at a time. */
async function keygenComparison(n) {
  const script = `
    const crypto = require('node:crypto');
    const one = () => new Promise((res, rej) => crypto.generateKeyPair('rsa', { modulusLength: 4096, publicExponent: 0x10001,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } },
      (e) => (e ? rej(e) : res())));
    const t = performance.now();
    Promise.all(Array.from({ length: ${n} }, one)).then(() => process.stdout.write(String(performance.now() - t)));`;
  const nodeRun = await runNode(['-e', script], { env: { UV_THREADPOOL_SIZE: String(CORES) } });
  const nodeMs = Number(nodeRun.stdout);

  const dir = fs.mkdtempSync(path.join(tmpRoot, 'openssl-'));
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(CORES, n) }, async () => {
      while (next < n) {
        const i = next++;
        await runCmd('openssl', ['genrsa', '-out', path.join(dir, `k${i}.pem`), '4096']);
      }
    }),
  );
  const opensslMs = performance.now() - start;
  fs.rmSync(dir, { recursive: true, force: true });
  return { n, nodeMs, opensslMs };
}

// ---------------------------------------------------------------------------------------------------------------- sizes

/** Removes every remote-secret entry from sealed/<cluster>.yaml, so the next synth seals every token again. */
function forgetSealedTokens(dir) {
  const sealedDir = path.join(dir, 'sealed');
  let removed = 0;
  for (const f of fs.readdirSync(sealedDir)) {
    if (!f.endsWith('.yaml')) continue;
    const file = path.join(sealedDir, f);
    const text = fs.readFileSync(file, 'utf8');
    const header = /^(?:#[^\n]*\n)*/.exec(text)[0];
    const data = YAML.parse(text.slice(header.length));
    for (const secret of Object.keys(data.secrets ?? {})) {
      if (secret.startsWith('istio-remote-secret-')) {
        removed += Object.keys(data.secrets[secret]).length;
        delete data.secrets[secret];
      }
    }
    fs.writeFileSync(file, header + YAML.stringify(data, { lineWidth: 0 }));
  }
  return removed;
}

async function benchSize(n, opts, keygen) {
  const networks = NETWORKS[n] ?? defaultNetworks(n);
  const r = { n, networks, problems: [] };
  log(`${n} clusters, ${networks} network(s): writing the work directory (topology, sealing certificates, tokens)`);
  const mesh = await makeMesh({ clusters: n, networks, dir: path.join(tmpRoot, `mesh-${n}`), cli: CLI, template: path.join(tmpRoot, 'prep') });
  const dir = mesh.dir;
  const dist = path.join(dir, 'dist');

  log(`${n}: first synth (${n} RSA-${opts.caKeySize} intermediate keys, seals ${int(n * (n - 1) + 4 * n)} values)`);
  const first = await runNode([CLI, 'synth', '--workdir', dir, '--ca-key-size', String(opts.caKeySize)]);
  r.first = first;
  const firstWrote = parseWrote(first.stdout);
  r.firstSealed = firstWrote?.sealed;
  if (firstWrote?.sealed !== n * (n - 1) + 4 * n) r.problems.push(`first synth sealed ${firstWrote?.sealed} values, expected ${n * (n - 1) + 4 * n}`);
  // The one expected stderr line is the list of created intermediates; anything else (a warning) is worth showing.
  const unexpected = first.stderr
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('created intermediate CAs'))
    .slice(0, 3);
  if (unexpected.length > 0) r.problems.push(`first synth printed on stderr: ${unexpected.join(' | ')}`);

  if (opts.ecdsaSizes.includes(n)) {
    // The same mesh with pki.keyAlgorithm ecdsa-p256 and an ECDSA root (prep --key-algorithm ecdsa-p256): what a user
    // who chose ECDSA gets on the first synth. Same sealing work; only the CA keys and signatures differ.
    log(`${n}: first synth with pki.keyAlgorithm ecdsa-p256 (${n} ECDSA P-256 intermediate keys, seals the same values)`);
    const ec = await makeMesh({
      clusters: n,
      networks,
      dir: path.join(tmpRoot, `mesh-${n}-ecdsa`),
      cli: CLI,
      template: path.join(tmpRoot, 'prep-ecdsa'),
      keyAlgorithm: 'ecdsa-p256',
    });
    r.firstEcdsa = await runNode([CLI, 'synth', '--workdir', ec.dir]);
    const w = parseWrote(r.firstEcdsa.stdout);
    if (w?.sealed !== n * (n - 1) + 4 * n) r.problems.push(`ECDSA first synth sealed ${w?.sealed} values, expected ${n * (n - 1) + 4 * n}`);
    if (!/created intermediate CAs \(ecdsa-p256 keys/.test(r.firstEcdsa.stderr)) {
      r.problems.push(`ECDSA first synth did not report ecdsa-p256 intermediates: ${r.firstEcdsa.stderr.slice(0, 200)}`);
    }
    fs.rmSync(ec.dir, { recursive: true, force: true });
  }

  // The objects meshgen wrote, for the plain writer (not timed).
  const dump = path.join(tmpRoot, `objects-${n}.json`);
  const counts = JSON.parse((await runNode([PLAIN, 'dump', '--dist', dist, '--out', dump])).stdout);
  r.files = counts.files;
  r.objects = counts.objects;

  log(`${n}: ${opts.reps}× re-synth with no change, interleaved with the plain yaml writer`);
  r.noChange = [];
  r.plain = [];
  const plainOut = path.join(tmpRoot, `plain-${n}`);
  for (let i = 0; i < opts.reps; i++) {
    const s = await synth(dir);
    if (s.stdout.trim() !== 'no changes') r.problems.push(`re-synth with no change printed ${JSON.stringify(s.stdout.trim())}`);
    r.noChange.push(s);
    fs.rmSync(plainOut, { recursive: true, force: true });
    r.plain.push(await runNode([PLAIN, 'write', '--in', dump, '--out', plainOut]));
  }
  const same = JSON.parse((await runNode([PLAIN, 'compare', '--a', dist, '--b', plainOut])).stdout);
  r.plainSame = same.different.length === 0 && same.missing.length === 0 && same.extra.length === 0;
  if (!r.plainSame) r.problems.push(`the plain writer's tree differs from dist/: ${JSON.stringify(same).slice(0, 300)}`);
  fs.rmSync(plainOut, { recursive: true, force: true });

  if (opts.profile && n === Math.max(...opts.sizes)) {
    log(`${n}: profiling one re-synth with no change (node --cpu-prof)`);
    const profDir = path.join(opts.keep ? dir : tmpRoot, 'cpu-profile');
    await synth(dir, ['--cpu-prof', '--cpu-prof-dir', profDir]);
    const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    r.profile = { file: path.join(profDir, file), summary: summarizeProfile(JSON.parse(fs.readFileSync(path.join(profDir, file), 'utf8'))) };
  }

  log(`${n}: ${opts.reps}× re-synth after ${contextName(0, n)}'s server changed`);
  r.oneChange = [];
  const topo = path.join(dir, 'topology.yaml');
  let server = serverOf(0, n);
  for (let i = 0; i < opts.reps; i++) {
    const next = serverOf(0, n, 7000 + i);
    const text = fs.readFileSync(topo, 'utf8');
    if (!text.includes(`server: ${server}\n`)) throw new Error(`topology.yaml of ${n} has no line "server: ${server}"`);
    fs.writeFileSync(topo, text.replace(`server: ${server}\n`, `server: ${next}\n`));
    server = next;
    const s = await synth(dir);
    const w = parseWrote(s.stdout);
    r.oneChangeFiles = w ? w.added + w.changed + w.removed : undefined;
    // The server is part of each remote secret's sealed kubeconfig: the n - 1 primaries holding one for this cluster reseal it.
    if (!w || w.sealed !== n - 1) r.problems.push(`re-synth after one change printed ${JSON.stringify(s.stdout.trim())} (expected ${n - 1} reseals)`);
    r.oneChange.push(s);
  }

  const tokens = forgetSealedTokens(dir);
  log(`${n}: synth that seals all ${int(tokens)} remote-secret tokens again`);
  r.tokens = tokens;
  r.seal = await synth(dir);
  const sw = parseWrote(r.seal.stdout);
  if (sw?.sealed !== tokens) r.problems.push(`sealing run sealed ${sw?.sealed} values, expected ${tokens}`);
  r.sealDelta = r.seal.ms - median(r.noChange.map((x) => x.ms));

  if (n > 1) {
    log(`${n}: seal-token for one cluster (seals into ${n - 1} primaries)`);
    const tokenFile = path.join(tmpRoot, `token-${n}`);
    fs.writeFileSync(tokenFile, `${fakeToken(clusterName(0, n), 'renewed')}\n`, { mode: 0o600 });
    r.sealToken = await runNode([CLI, 'seal-token', '--context', contextName(0, n), '--token-file', tokenFile, '--workdir', dir]);
    if (!/sealed (\d+) value/.test(r.sealToken.stdout) || Number(/sealed (\d+) value/.exec(r.sealToken.stdout)[1]) !== n - 1) {
      r.problems.push(`seal-token printed ${JSON.stringify(r.sealToken.stdout.trim())}`);
    }
  }

  log(`${n}: sealValue alone for ${int(n * (n - 1))} tokens, in one process`);
  r.sealAlone = await sealAlone(dir, mesh.names);

  const synthRuns = [first, ...r.noChange, ...r.oneChange, r.seal, ...(r.firstEcdsa ? [r.firstEcdsa] : [])];
  r.peakRss = Math.max(...synthRuns.map((x) => x.rss ?? 0)) || undefined;
  r.opensslEstimate = keygen ? (keygen.opensslMs / keygen.n) * n : undefined;
  if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(dump, { force: true });
  log(`${n}: done`);
  return r;
}

/**
 * Times meshgen's own sealing primitive (lib's loadSealingCert + sealValue, as kubeseal --cert) for every remote-secret
 * token of the mesh, in one child process, timing only the sealing loop: the cost of sealing without the rest of synth.
 * Undefined when lib's internals are not where this expects them.
 */
async function sealAlone(dir, names) {
  const script = `
    const fs = require('node:fs'), path = require('node:path');
    const { loadSealingCert } = require(${JSON.stringify(path.join(LIB, 'src', 'secrets', 'sealing-cert.js'))});
    const { sealValue } = require(${JSON.stringify(path.join(LIB, 'src', 'secrets', 'kubeseal.js'))});
    const dir = ${JSON.stringify(dir)}, names = ${JSON.stringify(names)};
    const certs = names.map((n) => loadSealingCert(fs.readFileSync(path.join(dir, 'sealing-certs', n + '.pem'), 'utf8'), { file: n }));
    const tokens = names.map((n) => fs.readFileSync(path.join(dir, 'certs', n, 'reader-token'), 'utf8').trim());
    let count = 0;
    const t = performance.now();
    for (let h = 0; h < names.length; h++)
      for (let p = 0; p < names.length; p++)
        if (p !== h) { sealValue(certs[h], 'istio-system', 'istio-remote-secret-' + names[p], tokens[p]); count++; }
    process.stdout.write(JSON.stringify({ ms: performance.now() - t, count }));`;
  try {
    return JSON.parse((await runNode(['-e', script])).stdout);
  } catch (e) {
    log(`sealValue alone: not measured (${String(e.message).split('\n')[0]})`);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------- profile

/** Self time by function and by origin, and inclusive time of meshgen's own functions, from a .cpuprofile. */
function summarizeProfile(prof) {
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const shortUrl = (url) => {
    if (!url) return '';
    const nm = url.lastIndexOf('/node_modules/');
    if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
    const lib = url.indexOf('/lib/src/');
    if (lib >= 0) return `lib/src/${url.slice(lib + '/lib/src/'.length)}`;
    return url.replace(/^file:\/\//, '');
  };
  const keyOf = (n) => {
    const f = n.callFrame;
    const u = shortUrl(f.url);
    return `${f.functionName || '(anonymous)'}${u ? ` ${u}:${f.lineNumber + 1}` : ''}`;
  };
  const originOf = (n) => {
    const url = n.callFrame.url;
    if (!url) return n.callFrame.functionName.startsWith('RegExp:') ? '(regular expressions)' : n.callFrame.functionName || '(native)';
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (m) return m[1];
    if (url.includes('/lib/src/')) return `meshgen ${shortUrl(url).split(':')[0]}`;
    if (url.startsWith('node:')) return 'node internals';
    return url;
  };
  const self = new Map();
  const origin = new Map();
  const incl = new Map();
  let total = 0;
  const deltas = prof.timeDeltas ?? [];
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (deltas[i + 1] ?? deltas[i] ?? 0) / 1000; // ms; the delta after a sample is the time spent in it
    total += dt;
    const leaf = byId.get(prof.samples[i]);
    self.set(keyOf(leaf), (self.get(keyOf(leaf)) ?? 0) + dt);
    origin.set(originOf(leaf), (origin.get(originOf(leaf)) ?? 0) + dt);
    const seen = new Set();
    for (let id = leaf.id; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id);
      if (!node.callFrame.url.includes('/lib/src/')) continue;
      const k = keyOf(node);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  }
  const top = (m, k) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
  return { total, self: top(self, 15), origin: top(origin, 12), incl: top(incl, 22) };
}

function printProfile(r) {
  const { total, self, origin, incl } = r.profile.summary;
  const pct = (ms) => `${((100 * ms) / total).toFixed(1)}%`;
  const out = [];
  out.push(`\n### CPU profile: one re-synth with no change, ${r.n} clusters (node --cpu-prof; ${sec(total)} sampled)\n`);
  out.push('Self time by origin:\n', '| origin | self | share |', '|---|---:|---:|');
  for (const [k, ms] of origin) out.push(`| ${k} | ${sec(ms)} | ${pct(ms)} |`);
  out.push('\nTop functions by self time:\n', '| function | self | share |', '|---|---:|---:|');
  for (const [k, ms] of self) out.push(`| \`${k}\` | ${sec(ms)} | ${pct(ms)} |`);
  out.push("\nmeshgen's own functions by inclusive time (callees included):\n", '| function | inclusive | share |', '|---|---:|---:|');
  for (const [k, ms] of incl) out.push(`| \`${k}\` | ${sec(ms)} | ${pct(ms)} |`);
  process.stdout.write(`${out.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------------------------- report

function printReport(results, keygen, help, opts) {
  const out = [];
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  out.push(
    `## meshgen bench — ${new Date().toISOString().slice(0, 16)}Z, Node ${process.version}, ${CORES} cores (${cpu}), ` +
      `${opts.reps} rep(s) (medians), peak RSS via ${useTime ? '/usr/bin/time -f %M' : 'process.resourceUsage().maxRSS'}; ${BUILD_INFO}\n`,
  );
  out.push(
    `| clusters (networks) | objects | files | first synth (RSA-${opts.caKeySize} keygen) | ÷ openssl keys (est.) | re-synth, no change | plain yaml writer | **ratio no change ÷ plain** | re-synth, 1 cluster changed | seal all tokens (Δ vs no change) | peak RSS |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of results) {
    const nc = median(r.noChange.map((x) => x.ms));
    const pl = median(r.plain.map((x) => x.ms));
    out.push(
      `| ${r.n} (${r.networks}) | ${int(r.objects)} | ${int(r.files)} | ${sec(r.first.ms)} | ${ratio(r.first.ms, r.opensslEstimate)} | ${sec(nc)} | ${sec(pl)} | **${ratio(nc, pl)}** | ${sec(median(r.oneChange.map((x) => x.ms)))} | ${sec(r.sealDelta)} (${int(r.tokens)} tokens) | ${mib(r.peakRss)} |`,
    );
  }
  out.push(
    '',
    '| clusters | no change: min–max | plain: min–max | RSS first / no change / 1 change / seal run / plain | files changed by 1 change | seal run (whole) | sealValue alone, all tokens | seal-token, 1 cluster (× clusters) | plain output = dist/ |',
    '|---|---:|---:|---:|---:|---:|---:|---:|:---:|',
  );
  for (const r of results) {
    const mm = (xs) => `${sec(Math.min(...xs.map((x) => x.ms)))}–${sec(Math.max(...xs.map((x) => x.ms)))}`;
    const rss = (xs) => mib(Math.max(...xs.map((x) => x.rss ?? 0)) || undefined);
    out.push(
      `| ${r.n} | ${mm(r.noChange)} | ${mm(r.plain)} | ${mib(r.first.rss)} / ${rss(r.noChange)} / ${rss(r.oneChange)} / ${mib(r.seal.rss)} / ${rss(r.plain)} | ${r.oneChangeFiles ?? 'n/a'} | ${sec(r.seal.ms)} | ${r.sealAlone ? `${sec(r.sealAlone.ms)} (${int(r.sealAlone.count)})` : 'n/a'} | ${r.sealToken ? `${sec(r.sealToken.ms)} (${sec(r.sealToken.ms * r.n)})` : 'n/a'} | ${r.plainSame ? 'yes' : 'NO'} |`,
    );
  }
  const withEcdsa = results.filter((r) => r.firstEcdsa);
  if (withEcdsa.length > 0) {
    out.push(
      '',
      `| clusters | first synth, RSA-${opts.caKeySize} intermediates (RSA-4096 root) | first synth, \`pki.keyAlgorithm: ecdsa-p256\` (ECDSA root) | **RSA ÷ ECDSA** | peak RSS RSA / ECDSA |`,
      '|---|---:|---:|---:|---:|',
    );
    for (const r of withEcdsa) {
      out.push(
        `| ${r.n} | ${sec(r.first.ms)} | ${sec(r.firstEcdsa.ms)} | **${ratio(r.first.ms, r.firstEcdsa.ms)}** | ${mib(r.first.rss)} / ${mib(r.firstEcdsa.rss)} |`,
      );
    }
  }
  out.push(
    '',
    keygen
      ? `RSA-4096 keygen, ${keygen.n} keys on ${CORES} cores: Node crypto.generateKeyPair ${sec(keygen.nodeMs)} vs ` +
          `openssl genrsa 4096 (${Math.min(CORES, keygen.n)} at a time) ${sec(keygen.opensslMs)}: ratio ${ratio(keygen.nodeMs, keygen.opensslMs)} ` +
          `(per key: ${sec(keygen.opensslMs / keygen.n)} openssl wall on ${CORES} cores). "÷ openssl keys (est.)" = first synth ÷ ` +
          `(openssl wall per key × clusters), an estimate: openssl was not run for every cluster's key.`
      : 'RSA-4096 keygen comparison: skipped (--quick without --keys).',
    `\`node bin/meshgen --help\`: median of 5 ${sec(help)}.`,
  );

  // Targets.
  const largest = results.reduce((a, b) => (b.n > a.n ? b : a), results[0]);
  const at200 = results.find((r) => r.n === 200);
  const keyRef = at200 ?? largest;
  const ratios = results.map((r) => ({ n: r.n, v: median(r.noChange.map((x) => x.ms)) / median(r.plain.map((x) => x.ms)) }));
  const worstRatio = ratios.reduce((a, b) => (b.v > a.v ? b : a));
  const peak = results.reduce((a, b) => ((b.peakRss ?? 0) > (a.peakRss ?? 0) ? b : a));
  const sealRef = results.reduce((a, b) => (b.tokens > a.tokens ? b : a));
  const yes = (b) => (b ? '**met**' : '**not met**');
  out.push('', '| target | measured | result |', '|---|---|---|');
  out.push(
    `| re-synth with no change ≤ 1.2× plain writer (whole process) | ${ratios.map((x) => `${x.n}: ${x.v.toFixed(2)}×`).join(', ')} | ${yes(worstRatio.v <= 1.2)}${worstRatio.v <= 1.2 ? '' : ` (worst at ${worstRatio.n})`} |`,
  );
  out.push(
    `| first synth of 200 clusters ≤ 1.2× openssl genrsa 4096 for the same 200 keys, same cores (estimated) | ${keyRef.n} clusters: ${sec(keyRef.first.ms)} vs ${sec(keyRef.opensslEstimate)} est. = ${ratio(keyRef.first.ms, keyRef.opensslEstimate)} | ${at200 && keygen ? yes(keyRef.first.ms <= 1.2 * keyRef.opensslEstimate) : 'not measured (no 200-cluster run or no keygen comparison)'} |`,
  );
  if (opts.caKeySize !== 4096)
    out[out.length - 1] = out[out.length - 1].replace(/\|[^|]*\|$/, `| not measured (RSA-${opts.caKeySize} intermediates) |`);
  const ecdsa200 = at200?.firstEcdsa;
  out.push(
    `| first synth of 200 clusters with pki.keyAlgorithm ecdsa-p256 ≤ 10 s (same run as the RSA one) | ${ecdsa200 ? `${sec(ecdsa200.ms)} (RSA-${opts.caKeySize}: ${sec(at200.first.ms)}, ${ratio(at200.first.ms, ecdsa200.ms)})` : 'n/a'} | ${ecdsa200 ? yes(ecdsa200.ms <= 10_000) : 'not measured (no 200-cluster ECDSA run)'} |`,
  );
  out.push(`| peak RSS ≤ 300 MiB | ${mib(peak.peakRss)} (${peak.n} clusters) | ${yes((peak.peakRss ?? Infinity) <= 300 * 1024)} |`);
  const sealOk = Math.max(sealRef.sealDelta, sealRef.sealAlone?.ms ?? 0) < 30000;
  out.push(
    `| sealing 40,000 tokens well under a minute (taken as < 30 s) | ${int(sealRef.tokens)} tokens (${sealRef.n} clusters): ${sec(sealRef.sealDelta)} Δ, seal run ${sec(sealRef.seal.ms)} whole, sealValue alone ${sec(sealRef.sealAlone?.ms)}; one seal-token per cluster: ${sealRef.sealToken ? sec(sealRef.sealToken.ms * sealRef.n) : 'n/a'} | ${sealRef.tokens >= 39800 ? yes(sealOk) : `${yes(sealOk)} at this size; 40,000 not measured`} |`,
  );
  out.push(`| \`meshgen --help\` < 0.5 s | ${sec(help)} | ${yes(help < 500)} |`);

  const problems = results.flatMap((r) => r.problems.map((p) => `- ${r.n} clusters: ${p}`));
  if (problems.length > 0) out.push('', 'Problems seen:', ...problems);
  process.stdout.write(`${out.join('\n')}\n`);
  for (const r of results) if (r.profile) printProfile(r);
}

// ---------------------------------------------------------------------------------------------------------------- main

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  useTime = opts.useTime && fs.existsSync(TIME);
  if (!fs.existsSync(path.join(REPO, 'lib', 'src', 'cli', 'main.js'))) {
    log('lib/src/cli/main.js is missing: running npm run build');
    const b = await new Promise((resolve) =>
      spawn('npm', ['run', 'build'], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] }).on('close', resolve),
    );
    if (b !== 0) throw new Error('npm run build failed');
  }
  tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-bench-'));
  BUILD_INFO = buildInfo();
  snapshotCli();
  const cleanup = () => {
    if (!opts.keep) fs.rmSync(tmpRoot, { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    log(`sizes ${opts.sizes.join(', ')}; ${opts.reps} rep(s); work directories under ${tmpRoot}`);
    const helpRuns = [];
    for (let i = 0; i < 5; i++) helpRuns.push((await runNode([CLI, '--help'])).ms);
    const help = median(helpRuns);
    if (opts.keys > 0) log(`RSA-4096 keygen: ${opts.keys} keys, Node vs openssl, ${CORES} at a time`);
    const keygen = opts.keys > 0 ? await keygenComparison(opts.keys) : undefined;
    log('meshgen prep: one root CA for every mesh of this run');
    fs.mkdirSync(path.join(tmpRoot, 'prep'));
    runCli(['prep', '--mesh-id', 'bench-mesh', '--org', 'bench.example.com', '--workdir', path.join(tmpRoot, 'prep')], { cli: CLI });
    if (opts.ecdsaSizes.length > 0) {
      fs.mkdirSync(path.join(tmpRoot, 'prep-ecdsa'));
      const args = ['prep', '--mesh-id', 'bench-mesh', '--org', 'bench.example.com', '--key-algorithm', 'ecdsa-p256'];
      runCli([...args, '--workdir', path.join(tmpRoot, 'prep-ecdsa')], { cli: CLI });
    }
    const results = [];
    for (const n of opts.sizes) results.push(await benchSize(n, opts, keygen));
    printReport(results, keygen, help, opts);
    if (opts.keep) log(`kept: ${tmpRoot}`);
    log('finished');
  } finally {
    cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${e.stack ?? e}\n`);
  process.exitCode = 1;
});
