/**
 * Fixture RSA-4096 keys for tests where a fresh 4096-bit key is not what is under test (generating one takes 0.3–2.5 s).
 *
 * Fresh 4096-bit generation itself is checked once, in test/pki/keys.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';

// The example's private keys (RSA 4096, PKCS#8): four distinct keys.
const FIXTURE_DIR = path.join(__dirname, '..', 'fixtures', 'example-private');
const FIXTURE_KEYS = ['root-key.pem', 'cluster-east-1/ca-key.pem', 'cluster-east-2/ca-key.pem', 'cluster-west-1/ca-key.pem'].map((f) =>
  fs.readFileSync(path.join(FIXTURE_DIR, f), 'utf8'),
);

/**
 * For the rest of test `t`, every request for a 4096-bit RSA key pair (`crypto.generateKeyPair('rsa', {modulusLength:
 * 4096, ...})`, what `generateRsaKey` calls) gets the next of four fixture keys instead, in the encodings asked for; other
 * sizes are still generated. So a test can still tell that 4096 bits were asked for (a 2048-bit request is generated,
 * and would be seen as 2048 bits). Returns how many fixture keys were handed out so far.
 */
export function useFixtureRsa4096Keys(t: TestContext): () => number {
  // The module object itself (not an ES namespace): src/pki/keys.ts looks generateKeyPair up on it at each call.
  const nodeCrypto: typeof import('node:crypto') = require('node:crypto');
  const original = nodeCrypto.generateKeyPair;
  let served = 0;
  t.mock.method(nodeCrypto, 'generateKeyPair', (type: string, options: any, callback: (...a: unknown[]) => void) => {
    if (type !== 'rsa' || options?.modulusLength !== 4096 || typeof callback !== 'function') {
      return (original as any).call(nodeCrypto, type, options, callback);
    }
    const key = nodeCrypto.createPrivateKey(FIXTURE_KEYS[served++ % FIXTURE_KEYS.length]);
    const pub = nodeCrypto.createPublicKey(key);
    const encode = (k: import('node:crypto').KeyObject, enc: any) => (enc ? k.export(enc) : k);
    setImmediate(() => callback(null, encode(pub, options.publicKeyEncoding), encode(key, options.privateKeyEncoding)));
  });
  return () => served;
}
