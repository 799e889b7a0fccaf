/**
 * The sender's connection test (API.md): dns → tcp or proxy → tls → smtp (greeting, EHLO) →
 * auth → sender (MAIL FROM accepted; then RSET, nothing is sent).
 */
import type { SenderSpec } from '../../config/schema.js';
import { AppError } from '../../domain/errors.js';
import { runStep, type ConnectionStep } from '../net/connection-steps.js';
import { authenticate, command, ehlo, readReply } from './smtp-dialog.js';
import { heloName, openSmtpSocket } from './smtp-transport.js';

export interface ConnectionTestResult {
  ok: boolean;
  steps: ConnectionStep[];
}

const addressOf = (from: string) => (/<([^>]+)>/.exec(from)?.[1] ?? from).trim();

export async function testSmtpConnection(spec: SenderSpec, timeoutMs = 15_000): Promise<ConnectionTestResult> {
  const steps: ConnectionStep[] = [];
  let socket: import('node:net').Socket | undefined;
  try {
    try {
      socket = (await openSmtpSocket(spec, { timeoutMs, steps })).socket;
    } catch (err) {
      // A STARTTLS refusal happens before any TLS step could be recorded: report it as that step.
      if (err instanceof AppError && err.code === 'STARTTLS_NOT_OFFERED' && !steps.some((s) => s.name === 'tls')) {
        steps.push({ name: 'tls', ok: false, code: err.code, ms: 0, detail: err.message, ...(err.hint ? { hint: err.hint } : {}), warnings: [] });
      }
      return { ok: false, steps };
    }
    const s = socket;
    const hello = await runStep(steps, 'smtp', async () => {
      const greeting = await readReply(s, timeoutMs);
      if (greeting.code !== 220) throw new AppError('SMTP_REJECTED', `The server refused the session: ${greeting.text}`, { status: 502, hint: 'The server does not accept connections from this host right now.' });
      const e = await ehlo(s, heloName(spec), timeoutMs);
      return { value: e, detail: `${greeting.text.slice(0, 100)}; EHLO: ${[...e.extensions].join(', ') || 'no extensions'}` };
    });
    if (spec.auth?.password !== undefined) {
      await runStep(steps, 'auth', async () => ({
        value: await authenticate(s, spec.auth!.user ?? '', spec.auth!.password!, hello.auth, timeoutMs),
        detail: `signed in as ${spec.auth!.user}`,
      }));
    }
    await runStep(steps, 'sender', async () => {
      const from = addressOf(spec.from);
      const r = await command(s, `MAIL FROM:<${from}>`, timeoutMs);
      if (r.code !== 250) {
        throw new AppError('SENDER_REFUSED', `The server refused ${from} as sender: ${r.text}`, {
          status: 502,
          hint: 'The signed-in user may not send as this address: use the mailbox\'s own address in from, or give the user send-as rights.',
        });
      }
      await command(s, 'RSET', timeoutMs).catch(() => undefined);
      return { value: undefined, detail: `MAIL FROM:<${from}> accepted (nothing was sent)` };
    });
    await command(s, 'QUIT', 2000).catch(() => undefined);
    return { ok: true, steps };
  } catch {
    return { ok: false, steps };
  } finally {
    socket?.destroy();
  }
}
