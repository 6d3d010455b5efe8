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
  constructor(exitCode: ExitCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MovieShareError';
    this.exitCode = exitCode;
  }
}

export const usageError = (msg: string): MovieShareError => new MovieShareError(ExitCode.Usage, msg);
export const integrityError = (msg: string): MovieShareError => new MovieShareError(ExitCode.Integrity, msg);
export const authError = (msg: string): MovieShareError => new MovieShareError(ExitCode.Auth, msg);
export const networkError = (msg: string): MovieShareError => new MovieShareError(ExitCode.Network, msg);

/**
 * The sentence both peers print when key confirmation fails: a mistyped code
 * and an attacker in the middle look the same to the peers, so it names both.
 */
export const AUTH_FAILURE_SENTENCE = 'Wrong code, or someone is interfering with the connection. Nothing was transferred; check the code and start again with a new one.';

export function isMovieShareError(e: unknown): e is MovieShareError {
  return e instanceof MovieShareError;
}
