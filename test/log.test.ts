/**
 * Progress on stderr: counts and an estimate on a terminal, nothing at all when stderr is not one (CI logs).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { formatDuration, type Logger, progressCounter, streamLogger } from '../src/log';
import { type CliResult, runCli } from './helpers/cli';
import { makeExampleWorkdir } from './helpers/workdir';

/** What a progress line starts with: back to the start of the line, erase it. */
const CLEAR = '\r\x1b[K';

/** A stream that records what is written; a terminal when `isTTY`. */
function fakeStream(isTTY: boolean): { stream: { isTTY: boolean; write(s: string): boolean }; text: () => string } {
  let text = '';
  return {
    stream: {
      isTTY,
      write: (s: string) => {
        text += s;
        return true;
      },
    },
    text: () => text,
  };
}

/** A logger recording progress lines. */
function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: () => {}, warn: () => {}, progress: (m) => lines.push(m) };
}

test('streamLogger: progress lines replace each other on a TTY, are cleared before other output, and an empty one clears', () => {
  const { stream, text } = fakeStream(true);
  const log = streamLogger(stream);
  log.progress('step 1/3');
  log.progress('step 2/3');
  log.info('created something');
  log.progress('step 3/3');
  log.progress('');
  log.progress('');
  log.warn('careful');
  assert.equal(text(), '\r\x1b[Kstep 1/3\r\x1b[Kstep 2/3\r\x1b[Kcreated something\n\r\x1b[Kstep 3/3\r\x1b[Kwarning: careful\n');
});

test('streamLogger: nothing of progress when the stream is not a TTY', () => {
  const { stream, text } = fakeStream(false);
  const log = streamLogger(stream);
  log.progress('step 1/3');
  log.progress('');
  log.info('created something');
  log.warn('careful');
  assert.equal(text(), 'created something\nwarning: careful\n');
});

test('progressCounter: n/total, detail and an estimate from the rate so far; throttled; cleared at the end', () => {
  let now = 1_000;
  const log = recorder();
  const report = progressCounter(log, 'creating intermediate CAs (ecdsa-p256)', { clock: () => now, minIntervalMs: 100 });

  report(0, 200);
  now += 2_000;
  report(50, 200, '1,000 values sealed');
  now += 50; // within the interval: skipped
  report(51, 200);
  now += 10_000;
  report(150, 200);
  now += 60_000;
  report(199, 200);
  report(200, 200);

  assert.deepEqual(log.lines, [
    'creating intermediate CAs (ecdsa-p256): 0/200',
    'creating intermediate CAs (ecdsa-p256): 50/200 (1,000 values sealed), about 6.0 s left',
    'creating intermediate CAs (ecdsa-p256): 150/200, about 4.0 s left',
    'creating intermediate CAs (ecdsa-p256): 199/200, about 0.4 s left',
    '',
  ]);
  assert.equal(formatDuration(65_000), '1 min 05 s');
  assert.equal(formatDuration(42_400), '42 s');

  // Nothing shown, nothing to clear: a run with nothing to do prints nothing.
  const quiet = recorder();
  progressCounter(quiet, 'x')(0, 0);
  assert.deepEqual(quiet.lines, []);
});

/** `meshgen <args>` in-process with stderr a (fake) terminal or not. */
function run(args: string[], tty: boolean): Promise<CliResult> {
  return runCli(args, '', { tty });
}

test('synth and rotate: key generation and sealing show n/total with an estimate on a TTY, nothing otherwise', async () => {
  for (const tty of [true, false]) {
    const dir = makeExampleWorkdir({ withPrivateKeys: true });
    try {
      const topology = path.join(dir, 'topology.yaml');
      fs.writeFileSync(topology, fs.readFileSync(topology, 'utf8').replace('\ncontexts:\n', '\npki:\n  keyAlgorithm: ecdsa-p256\ncontexts:\n'));
      for (const c of ['cluster-east-2', 'cluster-west-1']) fs.rmSync(path.join(dir, 'certs', c), { recursive: true });

      const s = await run(['synth', '--workdir', dir], tty);
      assert.equal(s.code, 0, s.stderr);
      const r = await run(['rotate', '--all', '--workdir', dir], tty);
      assert.equal(r.code, 0, r.stderr);

      if (tty) {
        const has = (out: string, line: string) => assert.ok(out.includes(`${CLEAR}${line}`), `${JSON.stringify(line)} in ${JSON.stringify(out)}`);
        has(s.stderr, 'creating intermediate CAs (ecdsa-p256): 0/2');
        // The first step is always shown; later ones at most every 100 ms, with the estimate (see the test above).
        has(s.stderr, 'sealing secrets and writing clusters: 0/3 (0 values sealed)');
        has(r.stderr, 'creating intermediate CAs (ecdsa-p256): 0/3');
        // The last line is cleared before the information that follows.
        has(s.stderr, 'created intermediate CAs (ecdsa-p256 keys');
        assert.ok(r.stderr.endsWith(CLEAR), JSON.stringify(r.stderr.slice(-80)));
      } else {
        for (const out of [s.stderr, r.stderr]) {
          assert.ok(!out.includes('\r') && !out.includes('\x1b'), JSON.stringify(out));
          assert.doesNotMatch(out, /\d+\/\d+/, out);
        }
        assert.match(s.stderr, /^created intermediate CAs \(ecdsa-p256 keys in certs\/<cluster>\/ca-key\.pem\): cluster-east-2, cluster-west-1\n$/);
        assert.equal(r.stderr, '');
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});
