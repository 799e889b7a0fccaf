/**
 * The only place errors become HTTP answers: `{error: {code, message, hint, details?}}` with a
 * stable code (API.md "Errors"). Anything that is not an AppError is logged in full and answered
 * as INTERNAL with the request id, never with its message (it may hold data it should not).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorDetail } from '../domain/errors.js';

export interface ErrorBody {
  error: { code: string; message: string; hint?: string; details?: ErrorDetail[] };
}

export function errorBody(err: AppError): ErrorBody {
  return {
    error: {
      code: err.code,
      message: err.message,
      ...(err.hint ? { hint: err.hint } : {}),
      ...(err.details ? { details: err.details } : {}),
    },
  };
}

function ajvPath(instancePath: string, missing?: string): string {
  const parts = instancePath.split('/').filter(Boolean).map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`));
  if (missing) parts.push(`.${missing}`);
  return parts.join('').replace(/^\./, '') || '(body)';
}

/** Errors that mean the database cannot be reached right now (pg, PGlite, sockets). */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006'].includes(e.code ?? '')) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)|did not answer/i.test(e.message ?? '');
}

/** Maps Fastify's own errors (validation, body parsing, limits) to stable codes. */
export function toAppError(err: FastifyError | Error): AppError | null {
  if (err instanceof AppError) return err;
  if (isDatabaseUnavailable(err)) {
    return new AppError('DB_UNAVAILABLE', 'The database cannot be reached right now', {
      status: 503,
      hint: 'Mailroom keeps retrying by itself; check that PostgreSQL is running and reachable (see /api/v1/health).',
    });
  }
  const fe = err as FastifyError & { validation?: { instancePath: string; message?: string; params?: Record<string, unknown> }[]; validationContext?: string };
  if (fe.validation) {
    const where = fe.validationContext ?? 'body';
    const details = fe.validation.map((v) => ({
      path: `${where === 'body' ? '' : `${where}.`}${ajvPath(v.instancePath, (v.params?.missingProperty ?? v.params?.additionalProperty) as string | undefined)}`,
      message: v.params?.additionalProperty ? 'unknown property' : (v.message ?? 'is invalid'),
    }));
    return new AppError('VALIDATION_FAILED', `The request ${where} is invalid: ${details.map((d) => `${d.path} ${d.message}`).join('; ')}`, {
      status: 400,
      hint: 'Correct the fields named in details (see /api/v1/openapi.json for the schema).',
      details,
    });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'The request body is too large', { status: 413, hint: 'Send a smaller body.' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', `Content-Type is not supported here`, {
        status: 415,
        hint: 'Send application/json (config also accepts application/yaml).',
      });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('INVALID_JSON', 'The request body is not valid JSON', { status: 400, hint: 'Check the JSON syntax of the body.' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('INVALID_REQUEST', 'Content-Length does not match the body', { status: 400, hint: 'Send a correct Content-Length.' });
    default:
      break;
  }
  if (err instanceof SyntaxError || fe.statusCode === 400) {
    return new AppError('INVALID_REQUEST', 'The request could not be read', { status: 400, hint: 'Check the body and the Content-Type header.' });
  }
  if (fe.statusCode === 429) return new AppError('RATE_LIMITED', 'Too many requests', { status: 429, hint: 'Slow down and retry later.' });
  return null;
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(err);
    if (appError) {
      if (appError.status >= 500) request.log.error({ err }, appError.message);
      return reply.status(appError.status).send(errorBody(appError));
    }
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send(
      errorBody(
        new AppError('INTERNAL', 'Something went wrong on the server', {
          status: 500,
          hint: `Try again; if it persists, give an administrator this request id: ${request.id}`,
        }),
      ),
    );
  });
}

/**
 * Unknown routes: a JSON 404 for the API; with the web app served, browser navigations to
 * client-side routes (/conversations/12) get index.html.
 */
export function registerNotFound(app: FastifyInstance, serveIndex: boolean): void {
  app.setNotFoundHandler((request, reply) => {
    if (serveIndex && request.method === 'GET' && !request.url.startsWith('/api/') && (request.headers.accept ?? '').includes('text/html')) {
      return reply.sendFile('index.html');
    }
    return reply.status(404).send(
      errorBody(new AppError('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`, { status: 404, hint: 'See /api/v1/openapi.json for the routes.' })),
    );
  });
}
