import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { test } from 'node:test';
import { generateRsaKey, publicKeyPemOf } from '../../src/pki';

test('generateRsaKey defaults to a 4096-bit PKCS#8 key with an SPKI public key', async () => {
  const { privateKeyPem, publicKeyPem } = await generateRsaKey();

  assert.match(privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.match(publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
  const key = crypto.createPrivateKey(privateKeyPem);
  assert.equal(key.asymmetricKeyType, 'rsa');
  assert.equal(key.asymmetricKeyDetails?.modulusLength, 4096);
  assert.equal(key.asymmetricKeyDetails?.publicExponent, 65537n);
  assert.equal(publicKeyPemOf(privateKeyPem), publicKeyPem);
});

test('generateRsaKey runs in parallel and gives distinct keys', async () => {
  // GIVEN eight 2048-bit keys requested at once
  const started = Date.now();
  const keys = await Promise.all(Array.from({ length: 8 }, () => generateRsaKey(2048)));

  // THEN every key is different and of the requested size
  assert.equal(new Set(keys.map((k) => k.publicKeyPem)).size, 8);
  for (const k of keys) assert.equal(crypto.createPublicKey(k.publicKeyPem).asymmetricKeyDetails?.modulusLength, 2048);
  // Native keygen: well under a second per 2048-bit key (node-forge's pure JS would take several seconds each).
  assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
});

test('fails when the key size is not supported', async () => {
  await assert.rejects(generateRsaKey(1024), /RSA key size 1024 is not supported; use an integer from 2048/);
  await assert.rejects(generateRsaKey(3000.5), /RSA key size 3000.5 is not supported/);
});
