/**
 * Just enough SMTP (RFC 5321) to negotiate STARTTLS under our TLS policy before nodemailer takes
 * the socket, and to run the sender's connection test step by step: greeting, EHLO, STARTTLS
 * (RFC 3207), AUTH PLAIN/LOGIN (RFC 4954), MAIL FROM, RSET, QUIT.
 */
import type net from 'node:net';
import { AppError } from '../../domain/errors.js';

export interface SmtpReply {
  code: number;
  lines: string[];
  text: string;
}

/**
 * Reads one (possibly multi-line, RFC 5321 §4.2.1) reply and pauses the socket, consuming
 * nothing after it, so TLS can take over a quiet socket right after "220 Ready to start TLS".
 */
export function readReply(socket: net.Socket, timeoutMs: number): Promise<SmtpReply> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const lines: string[] = [];
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.pause();
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new AppError('CONNECTION_CLOSED', 'The SMTP server closed the connection', { status: 502, hint: 'Check the port and the security setting (tls for 465, starttls for 587).' }));
    };
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      if (buffer.length > 64 * 1024) return onError(new AppError('SMTP_PROTOCOL_ERROR', 'The SMTP server sent an overlong reply', { status: 502, hint: 'Is this an SMTP port?' }));
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        const m = /^(\d{3})([ -])(.*)$/.exec(line);
        if (!m) return onError(new AppError('SMTP_PROTOCOL_ERROR', `Not an SMTP reply: "${line.slice(0, 80)}"`, { status: 502, hint: 'Is this an SMTP port? With implicit TLS (465) use security: tls.' }));
        lines.push(m[3]!);
        if (m[2] === ' ') {
          cleanup();
          if (buffer.length) socket.unshift(Buffer.from(buffer, 'latin1'));
          resolve({ code: Number(m[1]), lines, text: `${m[1]} ${lines.join(' / ')}` });
          return;
        }
      }
    };
    const timer = setTimeout(() => onError(new AppError('SMTP_TIMEOUT', `The SMTP server did not answer within ${timeoutMs / 1000} s`, { status: 504, hint: 'Check the port; a slow or overloaded server causes this too.' })), timeoutMs);
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.resume();
  });
}

export async function command(socket: net.Socket, line: string, timeoutMs: number): Promise<SmtpReply> {
  socket.write(`${line}\r\n`);
  return readReply(socket, timeoutMs);
}

/** EHLO and the extensions the server announced (upper-case keywords). */
export async function ehlo(socket: net.Socket, name: string, timeoutMs: number): Promise<{ reply: SmtpReply; extensions: Set<string>; auth: Set<string> }> {
  let reply = await command(socket, `EHLO ${name}`, timeoutMs);
  if (reply.code !== 250) reply = await command(socket, `HELO ${name}`, timeoutMs);
  if (reply.code !== 250) throw new AppError('SMTP_REJECTED', `The server refused EHLO: ${reply.text}`, { status: 502, hint: 'Check the server accepts this client.' });
  const extensions = new Set(reply.lines.slice(1).map((l) => l.split(/\s+/)[0]!.toUpperCase()));
  const authLine = reply.lines.slice(1).find((l) => /^AUTH[ =]/i.test(l));
  const auth = new Set(authLine ? authLine.slice(5).trim().toUpperCase().split(/\s+/) : []);
  return { reply, extensions, auth };
}

/** AUTH PLAIN, else AUTH LOGIN (RFC 4954); AUTH_FAILED with the server's words when refused. */
export async function authenticate(socket: net.Socket, user: string, pass: string, methods: Set<string>, timeoutMs: number): Promise<string> {
  let reply: SmtpReply;
  if (methods.has('PLAIN') || !methods.has('LOGIN')) {
    reply = await command(socket, `AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`).toString('base64')}`, timeoutMs);
  } else {
    reply = await command(socket, 'AUTH LOGIN', timeoutMs);
    if (reply.code === 334) reply = await command(socket, Buffer.from(user).toString('base64'), timeoutMs);
    if (reply.code === 334) reply = await command(socket, Buffer.from(pass).toString('base64'), timeoutMs);
  }
  if (reply.code !== 235) {
    throw new AppError('AUTH_FAILED', `The SMTP server refused the login: ${reply.text}`, {
      status: 502,
      hint: 'Check the sender\'s user name and password; some providers need an app password or OAuth.',
    });
  }
  return reply.text;
}
