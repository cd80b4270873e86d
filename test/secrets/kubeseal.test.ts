import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import forge from 'node-forge';
import { parse, stringify } from 'yaml';
import { InputError } from '../../src/errors';
import { sealingLabel, sealValue } from '../../src/secrets/kubeseal';
import { loadSealingCert, type SealingCert } from '../../src/secrets/sealing-cert';
import { type SealedSecretObject, unsealSealedSecret, unsealValue } from '../helpers/unseal';

const ROOT = path.resolve(__dirname, '..', '..');
const CLUSTERS = ['cluster-east-1', 'cluster-east-2', 'cluster-west-1'];

function certFile(cluster: string): string {
  return path.join('sealing-certs', `${cluster}.pem`);
}
function demoCert(cluster: string): SealingCert {
  const file = certFile(cluster);
  return loadSealingCert(fs.readFileSync(path.join(ROOT, file), 'utf8'), { file });
}
function demoKey(cluster: string): string {
  return fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'sealing-keys', `${cluster}.key`), 'utf8');
}
function badCert(name: string): { pem: string; file: string } {
  const file = path.join('test', 'fixtures', 'sealing-certs', name);
  return { pem: fs.readFileSync(path.join(ROOT, file), 'utf8'), file };
}
/** Runs `fn`, expects an InputError with exactly one problem, returns it. */
function inputProblem(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof InputError, `expected an InputError, got ${String(e)}`);
    assert.equal(e.problems.length, 1);
    return e;
  }
  assert.fail('expected an InputError');
}
const FETCH_FIX = 'kubeseal --controller-name sealed-secrets --controller-namespace kube-system --fetch-cert >';

const east1 = demoCert('cluster-east-1');
const east1Key = demoKey('cluster-east-1');

// --- sealing-cert ----------------------------------------------------------------------------------------------------

test('sealingLabel is the strict scope label <namespace>/<name> with the slash', () => {
  assert.deepEqual(sealingLabel('istio-system', 'cacerts'), Buffer.from('istio-system/cacerts'));
});

test('loadSealingCert reads the demo certificates: RSA 4096, sha256 fingerprint of the DER, NotAfter in 10 years', () => {
  for (const cluster of CLUSTERS) {
    // GIVEN
    const pem = fs.readFileSync(path.join(ROOT, certFile(cluster)), 'utf8');
    const x509 = new crypto.X509Certificate(pem);
    // WHEN
    const cert = loadSealingCert(pem, { file: certFile(cluster) });
    // THEN
    assert.equal(cert.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 4096);
    assert.match(cert.fingerprint, /^sha256:[0-9a-f]{64}$/);
    assert.equal(cert.fingerprint, `sha256:${x509.fingerprint256.replace(/:/g, '').toLowerCase()}`);
    assert.equal(cert.notAfter.getTime(), new Date(x509.validTo).getTime());
    const years = (cert.notAfter.getTime() - new Date(x509.validFrom).getTime()) / (365 * 24 * 3600 * 1000);
    assert.equal(years, 10);
    assert.ok(x509.checkPrivateKey(crypto.createPrivateKey(demoKey(cluster))), `${cluster}: key matches certificate`);
  }
});

test('loadSealingCert uses the first certificate of a bundle, like kubeseal (certs[0])', () => {
  const pem = fs.readFileSync(path.join(ROOT, certFile('cluster-east-1')), 'utf8');
  const other = fs.readFileSync(path.join(ROOT, certFile('cluster-west-1')), 'utf8');
  const cert = loadSealingCert(`# fetched from the controller\n${pem}${other}`, { file: 'bundle.pem' });
  assert.equal(cert.fingerprint, east1.fingerprint);
  assert.equal(cert.pem, pem);
});

test('loadSealingCert accepts a PEM with CRLF line endings (a Windows checkout)', () => {
  const pem = fs.readFileSync(path.join(ROOT, certFile('cluster-east-1')), 'utf8').replace(/\n/g, '\r\n');
  assert.equal(loadSealingCert(pem, { file: 'crlf.pem' }).fingerprint, east1.fingerprint);
});

test('loadSealingCert accepts a certificate that is not valid yet, and one at its NotAfter instant', () => {
  const pem = fs.readFileSync(path.join(ROOT, certFile('cluster-east-1')), 'utf8');
  assert.doesNotThrow(() => loadSealingCert(pem, { file: 'x.pem' }, new Date('2000-01-01T00:00:00Z')));
  assert.doesNotThrow(() => loadSealingCert(pem, { file: 'x.pem' }, east1.notAfter));
});

test('fails when the sealing certificate expired (kubeseal: failed to encrypt using an expired certificate)', () => {
  // GIVEN
  const { pem, file } = badCert('expired.pem');
  // WHEN
  const err = inputProblem(() => loadSealingCert(pem, { file, path: 'contexts.context-east-1.sealingCert', line: 7 }));
  // THEN
  const p = err.problems[0];
  assert.equal(p.file, file);
  assert.equal(p.path, 'contexts.context-east-1.sealingCert');
  assert.equal(p.line, 7);
  assert.match(err.message, /expired on 2016-01-01T00:00:00\.000Z/);
  assert.match(err.message, /failed to encrypt using an expired certificate/);
  assert.ok(err.message.includes(`${FETCH_FIX} ${file}`), err.message);
  assert.ok(err.message.startsWith(`${file}:7: contexts.context-east-1.sealingCert:`), err.message);
});

test('fails when a valid certificate is used after its NotAfter', () => {
  const pem = fs.readFileSync(path.join(ROOT, certFile('cluster-east-1')), 'utf8');
  const err = inputProblem(() => loadSealingCert(pem, { file: 'sealing-certs/cluster-east-1.pem' }, new Date(east1.notAfter.getTime() + 1000)));
  assert.match(err.message, /sealing-certs\/cluster-east-1\.pem: the sealing certificate expired on/);
});

test('fails when the sealing certificate has an EC key', () => {
  const { pem, file } = badCert('ec.pem');
  const err = inputProblem(() => loadSealingCert(pem, { file }));
  assert.equal(err.problems[0].file, file);
  assert.match(err.message, /has a "ec" public key/);
  assert.match(err.message, /expected RSA public key/);
  assert.ok(err.message.includes(`${FETCH_FIX} ${file}`), err.message);
});

test('fails when the sealing certificate PEM is truncated', () => {
  const { pem, file } = badCert('truncated.pem');
  const err = inputProblem(() => loadSealingCert(pem, { file }));
  assert.equal(err.problems[0].file, file);
  assert.match(err.message, /truncated/);
  assert.match(err.message, /no matching "-----END CERTIFICATE-----"/);
  assert.ok(err.message.startsWith(`${file}: `), err.message);
});

test('fails when the sealing certificate PEM has its middle cut out', () => {
  const full = fs.readFileSync(path.join(ROOT, certFile('cluster-east-1')), 'utf8').split('\n');
  const cut = [...full.slice(0, 5), ...full.slice(-3)].join('\n');
  const err = inputProblem(() => loadSealingCert(cut, { file: 'cut.pem' }));
  assert.match(err.message, /cut\.pem: the sealing certificate could not be parsed \(truncated or corrupt PEM\)/);
});

test('fails when the sealing certificate file is garbage', () => {
  const { pem, file } = badCert('garbage.pem');
  const err = inputProblem(() => loadSealingCert(pem, { file }));
  assert.equal(err.problems[0].file, file);
  assert.match(err.message, /is not a PEM certificate: it looks like HTML \(an error page\?\)/);
  assert.doesNotMatch(err.message, /<html/i, 'the content of the file is not quoted');
  assert.ok(err.message.includes(`${FETCH_FIX} ${file}`), err.message);
});

test('fails when the sealing certificate file is empty or holds a public key instead of a certificate', () => {
  assert.match(inputProblem(() => loadSealingCert('', { file: 'empty.pem' })).message, /empty\.pem: .*the file is empty/);
  const spki = east1.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  assert.match(inputProblem(() => loadSealingCert(spki, { file: 'pub.pem' })).message, /pub\.pem: .*holds a "PUBLIC KEY" PEM block/);
});

// --- sealing -------------------------------------------------------------------------------------------------------

test('seal then unseal round-trips with each demo key (strict label)', () => {
  for (const cluster of CLUSTERS) {
    const sealed = sealValue(demoCert(cluster), 'istio-system', 'cacerts', `root of ${cluster}`);
    assert.equal(unsealValue(demoKey(cluster), 'istio-system', 'cacerts', sealed).toString('utf8'), `root of ${cluster}`);
  }
});

test('round-trips binary values and the empty value', () => {
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  assert.deepEqual(unsealValue(east1Key, 'istio-system', 'cacerts', sealValue(east1, 'istio-system', 'cacerts', bytes)), bytes);
  assert.deepEqual(unsealValue(east1Key, 'istio-system', 'cacerts', sealValue(east1, 'istio-system', 'cacerts', '')), Buffer.alloc(0));
});

test('a value sealed for istio-system/cacerts does not decrypt as istio-system/other (OAEP label binding)', () => {
  const sealed = sealValue(east1, 'istio-system', 'cacerts', 'secret');
  assert.throws(() => unsealValue(east1Key, 'istio-system', 'other', sealed), /decryption error \(label "istio-system\/other"\)/);
  assert.throws(() => unsealValue(east1Key, 'other-ns', 'cacerts', sealed), /decryption error/);
  // namespace-wide and cluster-wide labels are different labels too
  const sse = { metadata: { name: 'cacerts', namespace: 'istio-system', annotations: { 'sealedsecrets.bitnami.com/cluster-wide': 'true' } } };
  assert.throws(
    () => unsealSealedSecret(east1Key, { ...sse, spec: { encryptedData: { k: sealed } } }),
    /k: crypto\/rsa: decryption error \(label ""\)/,
  );
});

test('a value sealed for one cluster does not decrypt with another cluster key', () => {
  const sealed = sealValue(east1, 'istio-system', 'cacerts', 'secret');
  assert.throws(() => unsealValue(demoKey('cluster-west-1'), 'istio-system', 'cacerts', sealed), /decryption error/);
});

test('output is uint16_be(512) ‖ RSA-4096 ciphertext ‖ AES-GCM ciphertext ‖ 16-byte tag, standard base64', () => {
  const value = 'hello, mesh';
  const sealed = sealValue(east1, 'istio-system', 'cacerts', value);
  assert.match(sealed, /^[A-Za-z0-9+/]+={0,2}$/);
  // 0x02 0x00 then the RSA ciphertext, whose top two bits are arbitrary: "AgA", "AgB", "AgC" or "AgD" (all seen in the wild).
  assert.match(sealed, /^Ag[A-D]/);
  const raw = Buffer.from(sealed, 'base64');
  assert.equal(raw[0], 0x02);
  assert.equal(raw[1], 0x00);
  assert.equal(raw.readUInt16BE(0), 512);
  assert.equal(raw.length, 2 + 512 + Buffer.byteLength(value) + 16);
});

test('two seals of the same value differ (random session key and OAEP seed) and both decrypt', () => {
  const a = sealValue(east1, 'istio-system', 'cacerts', 'same');
  const b = sealValue(east1, 'istio-system', 'cacerts', 'same');
  assert.notEqual(a, b);
  assert.notDeepEqual(Buffer.from(a, 'base64').subarray(514), Buffer.from(b, 'base64').subarray(514));
  assert.equal(unsealValue(east1Key, 'istio-system', 'cacerts', a).toString(), 'same');
  assert.equal(unsealValue(east1Key, 'istio-system', 'cacerts', b).toString(), 'same');
});

test('seals a 3 KB PEM', () => {
  const pem = ['cluster-east-1', 'cluster-east-2'].map((c) => fs.readFileSync(path.join(ROOT, certFile(c)), 'utf8')).join('');
  assert.ok(pem.length > 3000, `PEM is ${pem.length} bytes`);
  const sealed = sealValue(east1, 'istio-system', 'cacerts', pem);
  assert.equal(unsealValue(east1Key, 'istio-system', 'cacerts', sealed).toString('utf8'), pem);
});

test('fails when sealing without a namespace or name (strict scope needs both)', () => {
  assert.throws(() => sealValue(east1, '', 'cacerts', 'x'), /namespace "" and name "cacerts" must both be set/);
  assert.throws(() => sealValue(east1, 'istio-system', '', 'x'), /must both be set/);
});

test('tampering with the GCM part is detected', () => {
  const raw = Buffer.from(sealValue(east1, 'istio-system', 'cacerts', 'secret'), 'base64');
  raw[raw.length - 20] ^= 1;
  assert.throws(() => unsealValue(east1Key, 'istio-system', 'cacerts', raw.toString('base64')), /message authentication failed/);
});

// --- the test controller: Unseal() with templates -------------------------------------------------------------------

test('unsealSealedSecret renders a kubeconfig template; template.data.cluster-b overrides the sealed token key cluster-b', () => {
  // GIVEN a remote secret whose only sealed value is the token, stored under the same key the template renders
  const token = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.reader-token';
  const ns = 'istio-system';
  const name = 'istio-remote-secret-cluster-b';
  const kubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- cluster:',
    '    certificate-authority-data: Q0EgREFUQQ==',
    '    server: https://cluster-b.example.com:6443',
    '  name: cluster-b',
    'contexts:',
    '- context: {cluster: cluster-b, user: cluster-b}',
    '  name: cluster-b',
    'current-context: cluster-b',
    'users:',
    '- name: cluster-b',
    '  user:',
    '    token: {{ index . "cluster-b" }}',
    '',
  ].join('\n');
  const sealedSecret: SealedSecretObject = {
    apiVersion: 'bitnami.com/v1alpha1',
    kind: 'SealedSecret',
    metadata: { name, namespace: ns },
    spec: {
      encryptedData: { 'cluster-b': sealValue(east1, ns, name, token) },
      template: {
        type: 'Opaque',
        metadata: {
          name,
          namespace: ns,
          labels: { 'istio/multiCluster': 'true' },
          annotations: { 'networking.istio.io/cluster': 'cluster-b' },
        },
        data: { 'cluster-b': kubeconfig },
      },
    },
  };
  // WHEN it goes through YAML, as it would through git
  const secret = unsealSealedSecret(east1Key, parse(stringify(sealedSecret)) as SealedSecretObject);
  // THEN
  assert.equal(secret.name, name);
  assert.equal(secret.namespace, ns);
  assert.equal(secret.type, 'Opaque');
  assert.deepEqual(secret.labels, { 'istio/multiCluster': 'true' });
  assert.deepEqual(secret.annotations, { 'networking.istio.io/cluster': 'cluster-b' });
  assert.deepEqual(Object.keys(secret.data), ['cluster-b']);
  assert.equal(secret.data['cluster-b'].toString('utf8'), kubeconfig.replace('{{ index . "cluster-b" }}', token));
  assert.match(secret.data['cluster-b'].toString('utf8'), /^ {4}token: eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9\.reader-token$/m);
});

test('unsealSealedSecret: {{ .key }}, trim markers, missing keys, null entries and name/namespace from the SealedSecret', () => {
  const meta = { name: 'creds', namespace: 'istio-system' };
  const secret = unsealSealedSecret(east1Key, {
    metadata: meta,
    spec: {
      encryptedData: {
        token: sealValue(east1, meta.namespace, meta.name, 'tok'),
        dropped: sealValue(east1, meta.namespace, meta.name, 'gone'),
        kept: sealValue(east1, meta.namespace, meta.name, Buffer.from([0xff, 0x00, 0xfe])),
      },
      template: {
        metadata: { name: 'ignored', namespace: 'ignored' },
        data: {
          dropped: null,
          rendered: 'a={{ .token }} b={{ .missing }} c={{ index . "missing" }} d=[ {{- .token -}} ]',
          raw: '{{ index . `kept` }}',
        },
      },
    },
  });
  assert.equal(secret.name, 'creds');
  assert.equal(secret.namespace, 'istio-system');
  assert.deepEqual(Object.keys(secret.data).sort(), ['kept', 'raw', 'rendered', 'token']);
  assert.equal(secret.data.rendered.toString(), 'a=tok b=<no value> c= d=[tok]');
  assert.deepEqual(secret.data.raw, Buffer.from([0xff, 0x00, 0xfe]));
});

test('unsealSealedSecret fails on a moved SealedSecret, on unsupported template actions and on non-standard base64', () => {
  const sealed = sealValue(east1, 'istio-system', 'cacerts', 'secret');
  assert.throws(
    () => unsealSealedSecret(east1Key, { metadata: { name: 'cacerts', namespace: 'default' }, spec: { encryptedData: { k: sealed } } }),
    /cannot unseal default\/cacerts:\n {2}k: crypto\/rsa: decryption error/,
  );
  assert.throws(
    () => unsealSealedSecret(east1Key, { metadata: { name: 'x', namespace: 'y' }, spec: { template: { data: { k: '{{ .a | b64enc }}' } } } }),
    /unsupported action \{\{ \.a \| b64enc \}\}/,
  );
  const urlSafe = sealed.replace(/\+/g, '-').replace(/\//g, '_');
  if (urlSafe !== sealed) assert.throws(() => unsealValue(east1Key, 'istio-system', 'cacerts', urlSafe), /illegal base64/);
  assert.throws(() => unsealValue(east1Key, 'istio-system', 'cacerts', sealed.replace(/=+$/, '')), /illegal base64|too short/);
});

// --- cross-checks against other implementations ----------------------------------------------------------------------

/** AES-256-GCM open with node-forge (a second, pure-JS implementation), zero nonce, 16-byte tag at the end. */
function forgeGcmOpen(sessionKey: Buffer, aesPart: Buffer): Buffer {
  const decipher = forge.cipher.createDecipher('AES-GCM', forge.util.createBuffer(sessionKey.toString('binary')));
  decipher.start({
    iv: forge.util.createBuffer(Buffer.alloc(12).toString('binary')),
    tagLength: 128,
    tag: forge.util.createBuffer(aesPart.subarray(aesPart.length - 16).toString('binary')),
  });
  decipher.update(forge.util.createBuffer(aesPart.subarray(0, aesPart.length - 16).toString('binary')));
  assert.ok(decipher.finish(), 'node-forge: GCM tag verifies');
  return Buffer.from(decipher.output.getBytes(), 'binary');
}

function sha256Forge(): forge.md.MessageDigest {
  return forge.md.sha256.create();
}

test('cross-check: node-forge (RSA-OAEP SHA-256/MGF1-SHA-256 with label, AES-GCM) opens what sealValue wrote', () => {
  const sealed = Buffer.from(sealValue(east1, 'istio-system', 'cacerts', 'forge check'), 'base64');
  const rsaLen = sealed.readUInt16BE(0);
  const key = forge.pki.privateKeyFromPem(east1Key);
  const sessionKey = key.decrypt(sealed.subarray(2, 2 + rsaLen).toString('binary'), 'RSA-OAEP', {
    md: sha256Forge(),
    mgf1: { md: sha256Forge() },
    label: 'istio-system/cacerts',
  });
  assert.equal(sessionKey.length, 32);
  assert.equal(forgeGcmOpen(Buffer.from(sessionKey, 'binary'), sealed.subarray(2 + rsaLen)).toString(), 'forge check');
});

test('cross-check: the test controller opens a value sealed by node-forge (independent of kubeseal.ts)', () => {
  // GIVEN a value sealed the HybridEncrypt way with node-forge only
  const cert = forge.pki.certificateFromPem(fs.readFileSync(path.join(ROOT, certFile('cluster-east-1')), 'utf8'));
  const sessionKey = forge.random.getBytesSync(32);
  const rsaPart = (cert.publicKey as forge.pki.rsa.PublicKey).encrypt(sessionKey, 'RSA-OAEP', {
    md: sha256Forge(),
    mgf1: { md: sha256Forge() },
    label: 'istio-system/cacerts',
  });
  const cipher = forge.cipher.createCipher('AES-GCM', forge.util.createBuffer(sessionKey));
  cipher.start({ iv: forge.util.createBuffer(Buffer.alloc(12).toString('binary')), tagLength: 128 });
  cipher.update(forge.util.createBuffer('sealed by forge', 'utf8'));
  cipher.finish();
  const raw = Buffer.concat([
    Buffer.from([rsaPart.length >> 8, rsaPart.length & 0xff]),
    Buffer.from(rsaPart, 'binary'),
    Buffer.from(cipher.output.getBytes(), 'binary'),
    Buffer.from(cipher.mode.tag.getBytes(), 'binary'),
  ]);
  // WHEN / THEN
  assert.equal(unsealValue(east1Key, 'istio-system', 'cacerts', raw.toString('base64')).toString(), 'sealed by forge');
});

test('cross-check: openssl pkeyutl (OAEP, SHA-256, MGF1 SHA-256, label) unwraps the session key', (t) => {
  if (spawnSync('openssl', ['version']).status !== 0) {
    t.skip('openssl is not installed; skipping the openssl cross-check');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-kubeseal-'));
  try {
    // GIVEN
    const sealed = Buffer.from(sealValue(east1, 'istio-system', 'cacerts', 'openssl check'), 'base64');
    const rsaLen = sealed.readUInt16BE(0);
    fs.writeFileSync(path.join(dir, 'key.pem'), east1Key, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'rsa.bin'), sealed.subarray(2, 2 + rsaLen));
    const decrypt = (label: string): Buffer =>
      execFileSync(
        'openssl',
        [
          'pkeyutl',
          '-decrypt',
          '-inkey',
          path.join(dir, 'key.pem'),
          '-in',
          path.join(dir, 'rsa.bin'),
          '-pkeyopt',
          'rsa_padding_mode:oaep',
          '-pkeyopt',
          'rsa_oaep_md:sha256',
          '-pkeyopt',
          'rsa_mgf1_md:sha256',
          '-pkeyopt',
          `rsa_oaep_label:${Buffer.from(label).toString('hex')}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
    // WHEN
    const sessionKey = decrypt('istio-system/cacerts');
    // THEN the session key is 32 bytes and opens the GCM part (checked with node-forge's GCM)
    assert.equal(sessionKey.length, 32);
    assert.equal(forgeGcmOpen(sessionKey, sealed.subarray(2 + rsaLen)).toString(), 'openssl check');
    assert.throws(() => decrypt('istio-system/other'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// --- speed --------------------------------------------------------------------------------------------------------

test('seals thousands of short values quickly (RSA public op only; the key is parsed once)', (t) => {
  const certs = CLUSTERS.map(demoCert);
  const n = 3000;
  const start = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 0; i < n; i++) bytes += sealValue(certs[i % certs.length], 'istio-system', `secret-${i}`, `token-${i}`).length;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const rate = Math.round(n / seconds);
  t.diagnostic(`sealed ${n} values in ${seconds.toFixed(2)} s: ${rate} values/s (40,000 would take ${(40000 / rate).toFixed(1)} s)`);
  assert.ok(bytes > 0);
  assert.ok(rate > 700, `sealing rate ${rate}/s is far below expectations (40,000 values must stay well under a minute)`);
});
