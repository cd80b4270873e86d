/**
 * Fixture RSA keys for tests where a fresh key is not what is under test (generating a 4096-bit key takes 0.3–2.5 s,
 * a 2048-bit one about 0.1 s of a core).
 *
 * Fresh generation itself is checked in test/pki/keys.test.ts (and wherever these helpers are not used).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';

/** The mock tracker of a test (node:test), as `t.mock` or the module's `mock`. */
type MockTracker = TestContext['mock'];

// The example's private keys (RSA 4096, PKCS#8): four distinct keys.
const FIXTURE_DIR = path.join(__dirname, '..', 'fixtures', 'example-private');
const FIXTURE_KEYS = ['root-key.pem', 'cluster-east-1/ca-key.pem', 'cluster-east-2/ca-key.pem', 'cluster-west-1/ca-key.pem'].map((f) =>
  fs.readFileSync(path.join(FIXTURE_DIR, f), 'utf8'),
);

// Sixteen distinct RSA-2048 keys (PKCS#8), none of them used anywhere else (test/fixtures/mesh-keys/ are other keys).
const FIXTURE_2048_DIR = path.join(__dirname, '..', 'fixtures', 'rsa-2048');
const FIXTURE_2048_KEYS = Array.from({ length: 16 }, (_, i) => fs.readFileSync(path.join(FIXTURE_2048_DIR, `key-${i}.pem`), 'utf8'));

/**
 * Answers `crypto.generateKeyPair('rsa', {modulusLength: bits, ...}, callback)` (what `generateRsaKey` calls) with the
 * next of `keys`, in the encodings asked for, until `mock` is restored; other requests are passed on. When `keys` run
 * out, it cycles (`cycle`) or generates fresh keys again (so every key handed out is distinct). Returns how many fixture
 * keys were handed out so far.
 */
function useFixtureRsaKeys(mock: MockTracker, bits: number, keys: readonly string[], cycle: boolean): () => number {
  // The module object itself (not an ES namespace): src/pki/keys.ts looks generateKeyPair up on it at each call.
  const nodeCrypto: typeof import('node:crypto') = require('node:crypto');
  const original = nodeCrypto.generateKeyPair;
  let served = 0;
  mock.method(nodeCrypto, 'generateKeyPair', (type: string, options: any, callback: (...a: unknown[]) => void) => {
    if (type !== 'rsa' || options?.modulusLength !== bits || typeof callback !== 'function' || (!cycle && served >= keys.length)) {
      return (original as any).call(nodeCrypto, type, options, callback);
    }
    const key = nodeCrypto.createPrivateKey(keys[served++ % keys.length]);
    const pub = nodeCrypto.createPublicKey(key);
    const encode = (k: import('node:crypto').KeyObject, enc: any) => (enc ? k.export(enc) : k);
    setImmediate(() => callback(null, encode(pub, options.publicKeyEncoding), encode(key, options.privateKeyEncoding)));
  });
  return () => served;
}

/**
 * For the rest of test `t`, every request for a 4096-bit RSA key pair (`crypto.generateKeyPair('rsa', {modulusLength:
 * 4096, ...})`, what `generateRsaKey` calls) gets the next of four fixture keys instead, in the encodings asked for; other
 * sizes are still generated. So a test can still tell that 4096 bits were asked for (a 2048-bit request is generated,
 * and would be seen as 2048 bits). Returns how many fixture keys were handed out so far.
 */
export function useFixtureRsa4096Keys(t: TestContext): () => number {
  return useFixtureRsaKeys(t.mock, 4096, FIXTURE_KEYS, true);
}

/**
 * Until `mock` is restored (a test's `t.mock`: the end of the test; node:test's `mock`: `mock.restoreAll()`), every
 * request for a 2048-bit RSA key pair gets the next of sixteen distinct fixture keys instead (then fresh keys again, so
 * no key is handed out twice); other sizes are still generated. Returns how many fixture keys were handed out so far.
 */
export function useFixtureRsa2048Keys(mock: MockTracker): () => number {
  return useFixtureRsaKeys(mock, 2048, FIXTURE_2048_KEYS, false);
}
