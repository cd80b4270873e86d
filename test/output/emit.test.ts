import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { parse, parseAllDocuments } from 'yaml';
import { emitYaml } from '../../src/output/emit';
import { toYamlWithLibrary } from '../../src/output/render';
import { isBase64 } from '../../src/util/records';
import { hashTree, REPO_ROOT } from '../helpers/workdir';

test('emitYaml writes exactly what yaml.stringify writes, for every object of the example dist/ and sealed/', () => {
  let n = 0;
  for (const dir of ['dist', 'sealed']) {
    for (const [f] of hashTree(path.join(REPO_ROOT, dir))) {
      for (const doc of parseAllDocuments(fs.readFileSync(path.join(REPO_ROOT, dir, f), 'utf8'))) {
        const o = doc.toJS();
        if (o === null) continue;
        assert.equal(emitYaml(o), toYamlWithLibrary(o), `${dir}/${f}`);
        n++;
      }
    }
  }
  assert.ok(n > 40);
});

test('emitYaml equals yaml.stringify on random JSON-shaped objects, ambiguous YAML 1.1 strings included', () => {
  const tricky = fc.constantFrom(
    'yes',
    'no',
    'on',
    'off',
    'y',
    'N',
    '~',
    'null',
    '123',
    '0x1F',
    '1e3',
    '1.5',
    '2001-12-14',
    '1:20',
    '',
    ' lead',
    'trail ',
    'a: b',
    '- x',
    '#c',
    '*a',
    '&a',
    '!t',
    '"q"',
    "'q'",
    '@x',
    '`x',
    '%x',
    '{}',
    '[x]',
    'multi\nline',
    'multi\nline\n',
    'ends\n\n',
    '  indented\nblock',
    'tab\tin',
    'ünïcode',
    'AgB'.repeat(20),
    '1e1'.repeat(15),
    `${'a'.repeat(41)}=`,
  );
  // `<<` is a YAML 1.1 merge key: the input refuses it (test/fixtures/bad/190-base-merge-key), so no object carries it.
  const key = fc.oneof(fc.string({ maxLength: 8 }), tricky).filter((k) => k !== '<<');
  const scalar = fc.oneof(
    tricky,
    fc.string({ maxLength: 12 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.base64String({ minLength: 40, maxLength: 120 }),
  );
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof({ depthSize: 'small' }, scalar, tie('map'), tie('list')),
    map: fc.dictionary(key, tie('tree'), { maxKeys: 4 }),
    list: fc.array(tie('tree'), { maxLength: 4 }),
  }));
  fc.assert(
    fc.property(fc.dictionary(key, tree, { maxKeys: 5 }), (o) => {
      const fast = emitYaml(o);
      assert.equal(fast, toYamlWithLibrary(o));
      assert.deepEqual(parse(fast, { version: '1.1' }) ?? {}, o);
    }),
    { seed: 11, numRuns: 300 },
  );
});

test('isBase64 is the regular expression ^[A-Za-z0-9+/]+=*$, character for character', () => {
  const re = /^[A-Za-z0-9+/]+=*$/;
  const alphabet = 'AZaz09+/=-_ \n.Ä';
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 12 }), (chars) => {
      const s = chars.join('');
      assert.equal(isBase64(s), re.test(s), JSON.stringify(s));
    }),
    { seed: 7, numRuns: 2000 },
  );
});
