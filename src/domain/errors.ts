/**
 * One error type that crosses module boundaries. `code` is stable (clients and tests match on
 * it), `status` is the HTTP status the server answers with, `hint` tells the user what to do.
 * The mapping to HTTP lives in `server/error-handler.ts`; nothing else formats errors.
 */
export interface ErrorDetail {
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly hint: string | undefined;
  readonly details: ErrorDetail[] | undefined;

  constructor(
    code: string,
    message: string,
    opts: { status?: number; hint?: string; details?: ErrorDetail[]; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = opts.status ?? 400;
    this.hint = opts.hint;
    this.details = opts.details;
  }
}

export const notFound = (what: string, hint?: string): AppError =>
  new AppError('NOT_FOUND', `${what} was not found`, {
    status: 404,
    hint: hint ?? 'Check the id or name; list the collection to see what exists.',
  });

export const forbidden = (action: string): AppError =>
  new AppError('FORBIDDEN', `Your role does not allow you to ${action}`, {
    status: 403,
    hint: 'Ask an administrator to give your user the role this needs.',
  });

export const conflict = (message: string, hint: string): AppError =>
  new AppError('CONFLICT', message, { status: 409, hint });

export const invalid = (message: string, hint: string, details?: ErrorDetail[]): AppError =>
  new AppError('INVALID_REQUEST', message, { status: 400, hint, ...(details ? { details } : {}) });

/** Message of any thrown value, for logs and status lines. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
