/** What every command shares: the exit codes, the streams and the context a handler gets (no command imports main). */

/** Exit codes (SPEC §3). */
export const EXIT_OK = 0;
export const EXIT_CHECK_FAILED = 1;
export const EXIT_BAD_INPUT = 2;
/** A bug in meshgen (not the user's input). */
export const EXIT_INTERNAL = 3;

/** Streams a command writes to; tests pass their own. */
export interface Io {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WriteStream;
  readonly stdin: NodeJS.ReadableStream;
}

/** What a command handler gets: the streams, and the exit code it may set. */
export interface Ctx extends Io {
  exitCode: number;
}
