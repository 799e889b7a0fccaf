/**
 * The steps of a connection test (API.md "Connection test steps"): each step that ran is
 * recorded with its outcome, time, detail, and on failure the stable code and hint of the
 * AppError that ended it. The network layer records `dns`, `tcp` or `proxy`, and `tls`;
 * protocol code continues the same list with `auth`, `folder`, `smtp`, `sender`.
 */
import { performance } from 'node:perf_hooks';
import { AppError, errorMessage } from '../../domain/errors.js';
import { certificateOfError, type CertificateInfo } from './tls-policy.js';

export type ConnectionStepName = 'dns' | 'tcp' | 'proxy' | 'tls' | 'auth' | 'folder' | 'smtp' | 'sender';

export interface ConnectionStep {
  name: ConnectionStepName;
  ok: boolean;
  /** Stable error code when `ok` is false. */
  code?: string;
  /** Whole milliseconds the step took. */
  ms: number;
  /** One line for people: what was done or what went wrong. */
  detail: string;
  /** What to do, when `ok` is false. */
  hint?: string;
  /** Problems that did not stop the step (a certificate about to expire, TLS off). */
  warnings: string[];
  /** The server's certificate (tls step). */
  certificate?: CertificateInfo;
}

/** What a step reports when it succeeds. */
export interface StepSuccess<T> {
  value: T;
  detail: string;
  warnings?: string[];
  certificate?: CertificateInfo;
}

/** An AppError for something that was not one (a bug or an unexpected library error). */
export function asAppError(err: unknown, code = 'NETWORK_ERROR'): AppError {
  if (err instanceof AppError) return err;
  return new AppError(code, errorMessage(err), { status: 502, hint: 'An unexpected network error: try again, and report it if it persists.', cause: err });
}

/**
 * Runs one step and appends its record to `steps` (also when it fails: the error is rethrown
 * as an AppError after being recorded, so a caller can end the test with the list so far).
 */
export async function runStep<T>(
  steps: ConnectionStep[] | undefined,
  name: ConnectionStepName,
  fn: () => Promise<StepSuccess<T>>,
): Promise<T> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const result = await fn();
    steps?.push({
      name,
      ok: true,
      ms: elapsed(),
      detail: result.detail,
      warnings: result.warnings ?? [],
      ...(result.certificate ? { certificate: result.certificate } : {}),
    });
    return result.value;
  } catch (err) {
    const appError = asAppError(err);
    const certificate = certificateOfError(appError);
    steps?.push({
      name,
      ok: false,
      code: appError.code,
      ms: elapsed(),
      detail: appError.message,
      ...(appError.hint ? { hint: appError.hint } : {}),
      warnings: [],
      ...(certificate ? { certificate } : {}),
    });
    throw appError;
  }
}
