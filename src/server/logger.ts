/**
 * pino JSON lines on stdout. Secrets are redacted by path wherever they could appear: headers
 * (Authorization, Cookie, CSRF), bodies and objects that carry passwords or tokens, and
 * `?token=` in request URLs (WebSocket clients may authenticate that way).
 */
import pino, { type Logger } from 'pino';

const SECRET_KEYS = ['password', 'secret', 'token', 'secrets_enc', 'password_hash', 'password_fp', 'csrfToken', 'csrf_token', 'refresh_token', 'access_token', 'client_secret'];

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]),
];

export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|access_token|password)=)[^&#]*/gi, '$1[Redacted]');
}

export function createLogger(opts: { level: string; destination?: pino.DestinationStream; base?: Record<string, unknown> }): Logger {
  return pino(
    {
      level: opts.level,
      base: { service: 'mailroom', ...opts.base },
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      serializers: {
        err: pino.stdSerializers.err,
        req: (req: { method: string; url: string; ip?: string; id?: string }) => ({ method: req.method, url: redactUrl(req.url), ip: req.ip, id: req.id }),
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination,
  );
}
