// The TypeScript loader of `npm test` (scripts/run-tests.mjs runs `node --require ./test/helpers/ts-loader.cjs --test`):
// every `.ts` file that is required (test/, src/, imports/) is transpiled to CommonJS by esbuild, as tsx does, and
// cached under node_modules/.cache/meshgen-test-ts/ by its path and content; node_modules is loaded by Node untouched.
//
// Why not tsx: every test file runs in its own process, and tsx costs each about 0.3 s of a core more (its ESM loader
// thread, and an ESM check of every module of node_modules); over 60 files that is about 10 s of a two-core run.
// Source maps are inline without the sources, so stack traces still point at the .ts lines.
// `MESHGEN_TEST_LOADER=tsx npm test` runs the files through tsx instead.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const CACHE_DIR = path.join(ROOT, 'node_modules', '.cache', 'meshgen-test-ts');

/** esbuild's options: TypeScript to CommonJS for this Node, with the compiler options of tsconfig.json. */
const OPTIONS = {
  loader: 'ts',
  format: 'cjs',
  target: `node${process.versions.node}`,
  sourcemap: 'inline',
  sourcesContent: false,
  tsconfigRaw: { compilerOptions: JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8')).compilerOptions },
};
const ESBUILD_VERSION = JSON.parse(fs.readFileSync(require.resolve('esbuild/package.json'), 'utf8')).version;
const OPTIONS_KEY = `${ESBUILD_VERSION}\0${JSON.stringify(OPTIONS)}`;

let esbuild; // loaded on the first cache miss only

function transpile(source, filename) {
  const key = crypto.createHash('sha256').update(OPTIONS_KEY).update('\0').update(filename).update('\0').update(source).digest('hex');
  const cached = path.join(CACHE_DIR, `${key}.js`);
  try {
    return fs.readFileSync(cached, 'utf8');
  } catch {
    // not cached yet
  }
  esbuild ??= require('esbuild');
  const { code } = esbuild.transformSync(source, { ...OPTIONS, sourcefile: filename });
  // Written beside its place, then renamed: two test processes may transpile the same file at once.
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${cached}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, code);
  fs.renameSync(tmp, cached);
  return code;
}

/**
 * Transpiles every `.ts` file under the given directories into the cache, in this one process (run-tests.mjs calls it
 * before the test runner starts): each test file's process then finds its modules cached instead of loading esbuild and
 * transpiling the same shared modules itself.
 */
function warm(dirs) {
  let n = 0;
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'fixtures') walk(p);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        transpile(fs.readFileSync(p, 'utf8'), p);
        n++;
      }
    }
  };
  for (const d of dirs.map((x) => path.resolve(ROOT, x))) if (fs.existsSync(d)) walk(d);
  return n;
}
module.exports = { warm };

process.setSourceMapsEnabled(true);
require.extensions['.ts'] = (module, filename) => {
  module._compile(transpile(fs.readFileSync(filename, 'utf8'), filename), filename);
};
