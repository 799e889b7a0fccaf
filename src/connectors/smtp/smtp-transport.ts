/**
 * Opens the socket an SMTP session runs on through the shared network layer: SOCKS5 per the
 * sender's proxy, implicit TLS, or STARTTLS negotiated here under the TLS policy (so pinning
 * holds before any credential is sent) and never a silent fallback to plain text.
 */
import type net from 'node:net';
import type { SenderSpec } from '../../config/schema.js';
import { openConnection, upgradeToTls } from '../net/connect.js';
import type { ConnectionStep } from '../net/connection-steps.js';
import { starttlsNotOffered } from '../net/net-errors.js';
import { resolveProxy } from '../net/proxy-url.js';
import { command, ehlo, readReply, type SmtpReply } from './smtp-dialog.js';

export interface SmtpSocket {
  socket: net.Socket;
  secured: boolean;
  /** The server's greeting (before STARTTLS, when there was one). */
  greeting: SmtpReply | undefined;
}

export function heloName(spec: SenderSpec): string {
  return /@([^>\s]+)/.exec(spec.from)?.[1] ?? 'mailroom.local';
}

export async function openSmtpSocket(spec: SenderSpec, opts: { timeoutMs: number; steps?: ConnectionStep[] }): Promise<SmtpSocket> {
  const conn = await openConnection({
    host: spec.host,
    port: spec.port,
    security: spec.security,
    proxy: resolveProxy(spec.proxy, null),
    tls: spec.tls,
    timeoutMs: opts.timeoutMs,
    ...(opts.steps ? { steps: opts.steps } : {}),
  });
  if (spec.security !== 'starttls') return { socket: conn.socket, secured: spec.security === 'tls', greeting: undefined };
  const socket = conn.socket;
  try {
    const greeting = await readReply(socket, opts.timeoutMs);
    const { extensions } = await ehlo(socket, heloName(spec), opts.timeoutMs);
    if (!extensions.has('STARTTLS')) throw starttlsNotOffered(spec.host, spec.port, 'SMTP');
    const ready = await command(socket, 'STARTTLS', opts.timeoutMs);
    if (ready.code !== 220) throw starttlsNotOffered(spec.host, spec.port, 'SMTP');
    const up = await upgradeToTls(socket, { host: spec.host, port: spec.port, tls: spec.tls, timeoutMs: opts.timeoutMs, ...(opts.steps ? { steps: opts.steps } : {}) });
    // Whoever speaks next expects a greeting and sends EHLO again over TLS (RFC 3207 §4.2).
    up.socket.unshift(Buffer.from('220 TLS established\r\n'));
    return { socket: up.socket, secured: true, greeting };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}
