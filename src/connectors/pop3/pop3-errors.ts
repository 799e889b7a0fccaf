/**
 * What went wrong with a POP3 session, as stable AppError codes with hints a mailbox admin can
 * act on. A `-ERR` is read through its RFC 2449 §8 / RFC 3206 response code where the server
 * sends one ([AUTH], [IN-USE], [LOGIN-DELAY], [SYS/TEMP], [SYS/PERM]); failures to connect come
 * from the shared network layer (DNS_*, TCP_*, PROXY_*, TLS_*) and pass through unchanged.
 */
import { AppError, errorMessage } from '../../domain/errors.js';
import { hostPort } from '../net/net-errors.js';
import { printable, type Pop3Status } from './pop3-reader.js';

/** Where the error happened, for messages. */
export interface Pop3ErrorContext {
  host: string;
  port: number;
}

const CONNECTION_LIMIT_TEXT = /maximum number of connections|too many (simultaneous |concurrent )?(connections|sessions|logins)|connection limit/i;
const PLAINTEXT_REFUSED_TEXT = /plaintext|plain ?text|cleartext|secure connection|ssl\/tls required|tls required/i;

const hinted = (code: string, message: string, hint: string, status = 502): AppError => new AppError(code, message, { status, hint });

/** The AppError for a `-ERR` answer to `command` (the command word with its arguments, no password). */
export function pop3ResponseError(command: string, status: Pop3Status, ctx: Pop3ErrorContext): AppError {
  const where = hostPort(ctx.host, ctx.port);
  const said = status.code ? `[${status.code}] ${status.text}` : status.text || '(no text)';
  const verb = command.split(' ')[0]!.toUpperCase();
  const isAuth = verb === 'USER' || verb === 'PASS' || verb === 'APOP' || verb === 'AUTH';
  // Dovecot answers its per-user connection cap with "[IN-USE] Maximum number of connections
  // from user+IP exceeded": the text, not the code, tells it from a maildrop lock.
  if (CONNECTION_LIMIT_TEXT.test(status.text)) {
    return hinted(
      'CONNECTION_LIMIT',
      `The POP3 server at ${where} allows no more connections for this user: ${said}`,
      'Close other mail clients of this mailbox, or raise the per-user connection limit on the server (Dovecot: mail_max_userip_connections). Mailroom retries later by itself.',
    );
  }
  if (verb === 'QUIT') {
    // RFC 1939 §6: -ERR in the UPDATE state means some messages marked by DELE were not removed.
    return hinted(
      'POP3_DELETE_FAILED',
      `The POP3 server at ${where} could not remove the messages marked for deletion: ${said}`,
      'Nothing is lost: the messages are stored in Mailroom and stay on the server; Mailroom deletes them again at the next poll. If it persists, check the server log (permissions, quota, a read-only maildrop).',
    );
  }
  switch (status.code) {
    case 'IN-USE':
      // RFC 2449 §8.1.2: another session holds the exclusive maildrop lock of RFC 1939 §4.
      return hinted(
        'MAILBOX_IN_USE',
        `The POP3 maildrop is in use by another session on ${where}: ${said}`,
        'Another mail client (or a Mailroom node that lost its connection a moment ago) has this mailbox open. Mailroom retries by itself; if it persists, stop the other client: a POP3 maildrop can be open in only one session.',
      );
    case 'LOGIN-DELAY':
      // RFC 2449 §8.1.1: the server enforces a minimum time between logins.
      return hinted(
        'POP3_LOGIN_DELAY',
        `The POP3 server at ${where} refuses logins this soon after the previous one: ${said}`,
        'Raise poll_s of this mailbox to at least the delay the server announces (CAPA LOGIN-DELAY).',
      );
    case 'SYS/TEMP':
      // RFC 3206 SYS/TEMP: a temporary problem on the server's side, not the client's fault.
      return hinted(
        'POP3_SERVER_TEMPORARY',
        `The POP3 server at ${where} reports a temporary problem: ${said}`,
        'The problem is on the server (storage, quota, a busy backend). Mailroom retries by itself; if it persists, ask the mail server administrator.',
      );
    case 'SYS/PERM':
      return hinted(
        'POP3_SERVER_ERROR',
        `The POP3 server at ${where} reports a permanent problem: ${said}`,
        'The problem is on the server and will not go away by retrying: ask the mail server administrator, quoting this message.',
      );
  }
  // RFC 1939 §7: UIDL is optional, but exactly-once rests on it.
  if (command === 'UIDL' && !status.code) return pop3NoUidl(ctx.host, said);
  if (status.code === 'AUTH' || isAuth) {
    // RFC 3206: [AUTH] means the credentials, not the server, are at fault.
    const plaintext = PLAINTEXT_REFUSED_TEXT.test(status.text);
    return hinted(
      'AUTH_FAILED',
      `The POP3 server at ${where} refused the login (${verb}): ${said}`,
      plaintext
        ? 'The server does not accept passwords over an unencrypted connection: set security: starttls (port 110) or security: tls (port 995).'
        : verb === 'APOP'
          ? 'Check the user name and password. APOP only works when the server stores the password in plain text; otherwise sign in with USER/PASS over TLS.'
          : 'Check the user name and password of this mailbox; some providers need an app password or POP3 to be enabled for the account.',
    );
  }
  return hinted(
    'POP3_ERROR',
    `The POP3 server at ${where} answered ${verb} with an error: ${said}`,
    'Mailroom retries by itself; if it keeps failing, run the connection test of this mailbox and check the server log.',
  );
}

/** The server has no UIDL (RFC 1939 §7 optional command), without which no message can be told from another across sessions. */
export function pop3NoUidl(host: string, said?: string): AppError {
  return hinted(
    'POP3_NO_UIDL',
    `The POP3 server ${host} does not offer UIDL${said ? ` (it answered: ${said})` : ''}`,
    'Mailroom needs UIDL to import each message exactly once: enable it on the server, or connect this mailbox with IMAP instead.',
  );
}

/** The server does not look like POP3: a wrong greeting, or an answer that is not +OK/-ERR. */
export function pop3ProtocolError(ctx: Pop3ErrorContext, detail: string, during: string): AppError {
  return hinted(
    'POP3_PROTOCOL_ERROR',
    `${hostPort(ctx.host, ctx.port)} did not answer as a POP3 server ${during}: ${detail}`,
    'Check that the port belongs to POP3 (110 with starttls or none, 995 with tls) and not to IMAP, SMTP or another service.',
  );
}

/** The greeting was an -ERR (RFC 1939 §4 allows a server to refuse the session at once). */
export function pop3GreetingRefused(ctx: Pop3ErrorContext, status: Pop3Status): AppError {
  if (CONNECTION_LIMIT_TEXT.test(status.text) || status.code !== undefined) return pop3ResponseError('CONNECT', status, ctx);
  return hinted(
    'POP3_ERROR',
    `The POP3 server at ${hostPort(ctx.host, ctx.port)} refused the session: ${printable(status.text)}`,
    'The server is up but does not accept this client now (overload, maintenance or an address block): check the server log.',
  );
}

/** The server sent nothing (or not enough) for `ms` while an answer was due. */
export function pop3Timeout(ctx: Pop3ErrorContext, during: string, ms: number): AppError {
  return hinted(
    'POP3_TIMEOUT',
    `${hostPort(ctx.host, ctx.port)} sent nothing for ${ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`} while ${during}`,
    'The server or the network in between stopped answering. Mailroom reconnects by itself; if it keeps happening, raise liveness.timeout_s or check the server load and any proxy or firewall.',
    504,
  );
}

/** The connection ended while an answer was due (FIN or RST). */
export function pop3ConnectionLost(ctx: Pop3ErrorContext, during: string, reset: boolean, cause?: unknown): AppError {
  return new AppError(
    reset ? 'CONNECTION_RESET' : 'CONNECTION_CLOSED',
    `${hostPort(ctx.host, ctx.port)} ${reset ? 'reset' : 'closed'} the connection while ${during}`,
    {
      status: 502,
      hint: 'Nothing is lost: messages are only deleted after they are stored, and what was cut off is read again. Mailroom reconnects by itself; if it keeps happening, check the server log and its connection limits.',
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

/** Any error from a POP3 session as an AppError (those already classified pass through). */
export function classifyPop3Error(err: unknown, ctx: Pop3ErrorContext): AppError {
  if (err instanceof AppError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  if (code === 'ECONNRESET' || code === 'EPIPE') return pop3ConnectionLost(ctx, 'talking to it', true, err);
  return new AppError('POP3_ERROR', `POP3 error with ${hostPort(ctx.host, ctx.port)}: ${errorMessage(err)}`, {
    status: 502,
    hint: 'Mailroom retries by itself; if it keeps failing, run the connection test of this mailbox.',
    cause: err,
  });
}
