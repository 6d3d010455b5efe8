/**
 * The one error type of movie-share. Every expected failure becomes a
 * MovieShareError carrying the process exit code (listed in README.md) and one human
 * sentence: what happened and what to do. Only the CLI layer prints and exits.
 */
export const ExitCode = {
  Ok: 0,
  Other: 1,
  Usage: 2,
  Integrity: 3,
  Auth: 4,
  Network: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class MovieShareError extends Error {
  readonly exitCode: ExitCode;
  /**
   * The connection between the peers failed, as this side saw it (it closed,
   * went silent, or never opened), not by anyone's decision: the peers may
   * reconnect and go on (peer/rendezvous/heal.ts) instead of ending.
   */
  readonly recoverable: boolean;
  constructor(exitCode: ExitCode, message: string, options?: { cause?: unknown; recoverable?: boolean }) {
    super(message, options);
    this.name = 'MovieShareError';
    this.exitCode = exitCode;
    this.recoverable = options?.recoverable ?? false;
  }
}

export const usageError = (msg: string): MovieShareError => new MovieShareError(ExitCode.Usage, msg);
export const integrityError = (msg: string): MovieShareError => new MovieShareError(ExitCode.Integrity, msg);
export const authError = (msg: string): MovieShareError => new MovieShareError(ExitCode.Auth, msg);
export const networkError = (msg: string): MovieShareError => new MovieShareError(ExitCode.Network, msg);
/** The connection failed on its own (exit 5 if it cannot be healed): see `recoverable`. */
export const connectionError = (msg: string): MovieShareError => new MovieShareError(ExitCode.Network, msg, { recoverable: true });

/**
 * The sentence both peers print when key confirmation fails: a mistyped code
 * and an attacker in the middle look the same to the peers, so it names both.
 */
export const AUTH_FAILURE_SENTENCE = 'Wrong code, or someone is interfering with the connection. Nothing was transferred; check the code and start again with a new one.';

export function isMovieShareError(e: unknown): e is MovieShareError {
  return e instanceof MovieShareError;
}
