/** Where commands report progress, information and warnings (stderr), kept apart from results (stdout). */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  /** A transient progress line: shown on a TTY, dropped otherwise (CI logs stay quiet). */
  progress(msg: string): void;
}

/** A logger that drops everything (library use, tests). */
export function quietLogger(): Logger {
  return { info: () => {}, warn: () => {}, progress: () => {} };
}

/** A logger writing to a stream; progress lines only when it is a TTY. */
export function streamLogger(stream: NodeJS.WriteStream = process.stderr): Logger {
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
      stream.write(`\r\x1b[K${m}`);
      pending = true;
    },
  };
}
