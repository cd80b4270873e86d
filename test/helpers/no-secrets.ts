import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hashTree } from './workdir';

/**
 * Asserts that no private key, bearer token or kept token of the work directory appears in plaintext under its
 * `dist/` or `sealed/`: PEM private-key blocks, JWT-shaped strings, and the exact content of every private file
 * kept in `certs/` (each line of a PEM body, so a re-wrapped copy is found too). Returns the number of files scanned.
 */
export function assertNoSecrets(workdir: string): number {
  const needles: string[] = [];
  for (const [f] of hashTree(path.join(workdir, 'certs'))) {
    if (!/(^|\/)(root-key\.pem|ca-key\.pem|reader-token)$/.test(f)) continue;
    const text = fs.readFileSync(path.join(workdir, 'certs', f), 'utf8');
    needles.push(...(text.includes('-----BEGIN') ? text.split('\n').filter((l) => l.length >= 40) : [text.trim()]));
  }
  let n = 0;
  for (const dir of ['dist', 'sealed']) {
    for (const [f] of hashTree(path.join(workdir, dir))) {
      const text = fs.readFileSync(path.join(workdir, dir, f), 'utf8');
      assert.doesNotMatch(text, /BEGIN [A-Z ]*PRIVATE KEY/, `${dir}/${f} holds a private key`);
      assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./, `${dir}/${f} holds a JWT`);
      for (const needle of needles) assert.ok(!text.includes(needle), `${dir}/${f} holds a secret of certs/`);
      n++;
    }
  }
  return n;
}
