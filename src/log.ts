/** Where commands report progress, information and warnings (stderr), kept apart from results (stdout). */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  /** A transient progress line: shown on a TTY, dropped otherwise (CI logs stay quiet). An empty message clears it. */
  progress(msg: string): void;
}

/** A logger that drops everything (library use, tests). */
export function quietLogger(): Logger {
  return { info: () => {}, warn: () => {}, progress: () => {} };
}

/** The part of a stream {@link streamLogger} uses. */
export type LogStream = Pick<NodeJS.WriteStream, 'write'> & { readonly isTTY?: boolean };

/** A logger writing to a stream; progress lines only when it is a TTY, each replacing the previous one. */
export function streamLogger(stream: LogStream = process.stderr): Logger {
  const tty = Boolean(stream.isTTY);
  let pending = false;
  const clear = () => {
    if (pending) {
      stream.write('\r\x1b[K');
      pending = false;
    }
  };
  return {
    info: (m) => {
      clear();
      stream.write(`${m}\n`);
    },
    warn: (m) => {
      clear();
      stream.write(`warning: ${m}\n`);
    },
    progress: (m) => {
      if (!tty) return;
      if (m === '') {
        clear();
        return;
      }
      stream.write(`\r\x1b[K${m}`);
      pending = true;
    },
  };
}

/** Reports the progress of `total` steps; call with (0, total) first, then after each step. */
export type ProgressReporter = (done: number, total: number, detail?: string) => void;

/** Options of {@link progressCounter}. */
export interface ProgressCounterOptions {
  /**
   * Shortest time between two lines, in ms (the first and the last step are always shown).
   * @default 100
   */
  readonly minIntervalMs?: number;
  /**
   * The clock, in ms.
   * @default Date.now
   */
  readonly clock?: () => number;
}

/**
 * A progress reporter for a long step: `<label>: <done>/<total>[ (<detail>)], about <time> left` through
 * {@link Logger.progress} (so on a TTY only), the estimate from the rate since the first call; when `done` reaches
 * `total` the line is cleared, so that what is printed next starts on a clean line.
 *
 * @param log where the lines go.
 * @param label what is counted, e.g. `creating intermediate CAs (ecdsa-p256)`.
 */
export function progressCounter(log: Logger, label: string, opts: ProgressCounterOptions = {}): ProgressReporter {
  const clock = opts.clock ?? Date.now;
  const minInterval = opts.minIntervalMs ?? 100;
  let start: number | undefined;
  let last: number | undefined;
  let shown = false;
  return (done, total, detail) => {
    const now = clock();
    start ??= now;
    if (done >= total) {
      if (shown) log.progress('');
      shown = false;
      return;
    }
    if (last !== undefined && done > 0 && now - last < minInterval) return;
    last = now;
    const elapsed = now - start;
    const eta = done > 0 && elapsed > 0 ? `, about ${formatDuration((elapsed / done) * (total - done))} left` : '';
    log.progress(`${label}: ${done}/${total}${detail ? ` (${detail})` : ''}${eta}`);
    shown = true;
  };
}

/** `0.4 s`, `12 s`, `3 min 05 s`. */
export function formatDuration(ms: number): string {
  if (ms < 10_000) return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}
