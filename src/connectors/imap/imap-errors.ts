/**
 * What went wrong with an IMAP session, as a stable code and a hint a mailbox admin can act on.
 * imapflow marks authentication and missing-mailbox failures; socket, DNS and TLS failures carry
 * Node's codes (ECONNREFUSED, ENOTFOUND, CERT_HAS_EXPIRED…).
 */
import { AppError, errorMessage } from '../../domain/errors.js';
import { starttlsNotOffered } from '../net/net-errors.js';

interface ImapLikeError extends Error {
  code?: string;
  authenticationFailed?: boolean;
  mailboxMissing?: boolean;
  serverResponseCode?: string;
  responseText?: string;
  tlsFailed?: boolean;
  reason?: string;
}

const NODE_CODES: Record<string, [code: string, hint: string]> = {
  ECONNREFUSED: ['TCP_REFUSED', 'Nothing accepts connections on that host and port: check the port (993 for IMAPS, 143 for IMAP/STARTTLS) and any firewall.'],
  ENOTFOUND: ['DNS_NOT_FOUND', 'The host name does not resolve: check its spelling, or the DNS of this server.'],
  EAI_AGAIN: ['DNS_NOT_FOUND', 'The host name could not be resolved right now: check the DNS of this server.'],
  ETIMEDOUT: ['TCP_TIMEOUT', 'The server did not answer in time: check the host, the port and any firewall or proxy in between.'],
  CONNECT_TIMEOUT: ['TCP_TIMEOUT', 'The connection could not be opened in time: check the host, the port and any firewall or proxy in between.'],
  GREETING_TIMEOUT: ['IMAP_NO_GREETING', 'The server accepted the connection but did not greet: is this an IMAP port? With implicit TLS use security: tls.'],
  ECONNRESET: ['CONNECTION_RESET', 'The server or something in between closed the connection: it retries by itself; if it keeps happening check the server logs.'],
  EPIPE: ['CONNECTION_RESET', 'The connection broke while writing: it retries by itself.'],
  NoConnection: ['CONNECTION_CLOSED', 'The connection was closed: it retries by itself.'],
  EConnectionClosed: ['CONNECTION_CLOSED', 'The connection was closed: it retries by itself.'],
  ETIMEOUT: ['IMAP_TIMEOUT', 'The server stopped answering on an open connection: it reconnects by itself; a dead link or an overloaded server causes this.'],
  ProxyError: ['PROXY_REFUSED', 'The SOCKS5 proxy could not be used: check that it runs, its address, and its user name and password.'],
  EPROXY: ['PROXY_REFUSED', 'The SOCKS5 proxy could not be used: check that it runs, its address, and its user name and password.'],
  CERT_HAS_EXPIRED: ['TLS_CERT_EXPIRED', 'The server certificate has expired: renew it on the server, or (temporarily) pin it with tls.verify: peer.'],
  DEPTH_ZERO_SELF_SIGNED_CERT: ['TLS_CERT_UNTRUSTED', 'The server certificate is self-signed: pin it (tls.verify: peer with its fingerprint) or give its CA in tls.ca.'],
  SELF_SIGNED_CERT_IN_CHAIN: ['TLS_CERT_UNTRUSTED', 'The certificate chain ends in an unknown CA: give that CA in tls.ca, or pin the certificate.'],
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: ['TLS_CERT_UNTRUSTED', 'The certificate is signed by a CA this server does not trust: give that CA in tls.ca, or pin the certificate.'],
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: ['TLS_CERT_UNTRUSTED', 'The certificate is signed by a CA this server does not trust: give that CA in tls.ca, or pin the certificate.'],
  ERR_TLS_CERT_ALTNAME_INVALID: ['TLS_CERT_NAME_MISMATCH', 'The certificate is for another name: connect with the name on the certificate, or pin the certificate.'],
};

/** The AppError our network layer raised, if imapflow wrapped it on the way out. */
export function innerAppError(err: unknown): AppError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    if (e instanceof AppError) return e;
    const x = e as { cause?: unknown; _err?: unknown };
    e = x.cause ?? x._err;
  }
  return undefined;
}

/** Classifies any error from an IMAP session into an AppError with a stable code and a hint. */
export function classifyImapError(err: unknown, ctx: { host: string; folder: string; port?: number }): AppError {
  const inner = innerAppError(err);
  if (inner) return inner;
  const e = (err ?? {}) as ImapLikeError;
  // Before the login check: Dovecot refuses LOGIN with "NO Maximum number of connections from
  // user+IP exceeded", which imapflow marks authenticationFailed, yet the password is right.
  if (e.serverResponseCode === 'LIMIT' || /too many (simultaneous )?connections|maximum number of connections/i.test(`${e.responseText ?? ''} ${e.reason ?? ''} ${e.message ?? ''}`)) {
    return new AppError('CONNECTION_LIMIT', `The server allows no more connections for this user: ${e.responseText ?? e.reason ?? e.message}`, {
      status: 502,
      hint: 'Close other clients of this mailbox, or raise the per-user connection limit on the server (Dovecot: mail_max_userip_connections). Mailroom retries slowly by itself.',
      cause: err,
    });
  }
  if (e.authenticationFailed || e.serverResponseCode === 'AUTHENTICATIONFAILED') {
    return new AppError('AUTH_FAILED', `The IMAP server refused the login${e.responseText ? `: ${e.responseText}` : ''}`, {
      status: 502,
      hint: 'Check the user name and password (or the OAuth sign-in) of this mailbox; some providers need an app password.',
      cause: err,
    });
  }
  if (e.mailboxMissing || e.serverResponseCode === 'NONEXISTENT') {
    return new AppError('FOLDER_NOT_FOUND', `The folder "${ctx.folder}" does not exist on ${ctx.host}`, {
      status: 502,
      hint: 'Check the folder name (case and separator, e.g. INBOX or INBOX/Support), or create it on the server.',
      cause: err,
    });
  }
  // imapflow with doSTARTTLS: true (security: starttls) when the server lists no STARTTLS
  // capability (RFC 3501 §6.2.1): never a fallback to plain text.
  if (e.tlsFailed && /does not support STARTTLS/i.test(e.message ?? '')) return starttlsNotOffered(ctx.host, ctx.port ?? 143, 'IMAP');
  const known = e.code ? NODE_CODES[e.code] : undefined;
  if (known) return new AppError(known[0], `${ctx.host}: ${errorMessage(err)}`, { status: 502, hint: known[1], cause: err });
  if (e.tlsFailed) {
    return new AppError('TLS_HANDSHAKE_FAILED', `TLS with ${ctx.host} failed: ${errorMessage(err)}`, {
      status: 502,
      hint: 'Check security (tls for port 993, starttls for 143) and that the server supports TLS 1.2 or newer.',
      cause: err,
    });
  }
  return new AppError('IMAP_ERROR', `IMAP error with ${ctx.host}: ${e.responseText ?? errorMessage(err)}`, {
    status: 502,
    hint: 'It retries by itself; if it keeps failing, run the connection test of this mailbox.',
    cause: err,
  });
}
