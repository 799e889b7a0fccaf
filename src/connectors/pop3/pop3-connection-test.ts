/**
 * The step-by-step connection test of a POP3 mailbox (API.md "Connection test steps"): `dns`,
 * `tcp` or `proxy`, `tls` (implicit, or STLS), `auth`, then `folder`, which for POP3 opens the
 * maildrop and counts it (POP3 has no folders). The first failing step ends the test; each
 * step carries its stable code and hint. Nothing on the server changes: no DELE, so the QUIT
 * at the end removes nothing (RFC 1939 §6).
 */
import type { MailboxSpec } from '../../config/schema.js';
import { runStep, type ConnectionStep } from '../net/connection-steps.js';
import type { LookupFn } from '../net/connect.js';
import { Pop3Client, type Pop3AuthMethod } from './pop3-client.js';
import { pop3NoUidl } from './pop3-errors.js';
import { pop3ClientOptions, pop3Credentials } from './pop3-source.js';

/** Settings of the test that are not in the mailbox spec. */
export interface Pop3ConnectionTestOptions {
  /** The global proxy, for `proxy: inherit`. */
  globalProxy?: string | null;
  /** `user` (USER/PASS, default) or `apop`. */
  authMethod?: Pop3AuthMethod;
  lookup?: LookupFn;
}

/** `ok` when every step passed; the steps that ran, the failing one last. */
export interface ConnectionTestResult {
  ok: boolean;
  steps: ConnectionStep[];
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** Runs the steps against the mailbox's server; resolves (never rejects) with what ran. */
export async function testPop3Connection(spec: MailboxSpec, opts: Pop3ConnectionTestOptions = {}): Promise<ConnectionTestResult> {
  const steps: ConnectionStep[] = [];
  let client: Pop3Client | undefined;
  try {
    try {
      client = await Pop3Client.connect({ ...pop3ClientOptions(spec, opts.globalProxy, opts.lookup), steps });
    } catch (err) {
      // The network layer and STLS record their own steps; a failure after them (no greeting,
      // not POP3) belongs to the step under way: STLS for starttls, else the sign-in.
      const last = steps.at(-1);
      if (last && !last.ok) throw err;
      const name = spec.security === 'starttls' && !steps.some((s) => s.name === 'tls') ? 'tls' : 'auth';
      await runStep(steps, name, () => Promise.reject(err));
    }
    const session = client!;
    await runStep(steps, 'auth', async () => {
      const { user, password } = pop3Credentials(spec);
      const method = opts.authMethod ?? 'user';
      await session.login(user, password, method);
      const how = method === 'apop' ? 'APOP' : 'USER/PASS';
      return { value: undefined, detail: `signed in as ${user} with ${how}${session.secure ? ' over TLS' : ''}` };
    });
    await runStep(steps, 'folder', async () => {
      const { count, size } = await session.stat();
      // Exactly-once rests on UIDL, which RFC 1939 §7 makes optional: say so now, not at the first
      // poll (a server without CAPA cannot tell; the first read will).
      if (session.capabilities.size > 0 && !session.capabilities.has('UIDL')) throw pop3NoUidl(spec.host);
      return { value: undefined, detail: `maildrop: ${plural(count, 'message')}, ${plural(size, 'byte')}` };
    });
    return { ok: true, steps };
  } catch {
    return { ok: false, steps };
  } finally {
    if (client?.usable) await client.quit().catch(() => undefined);
    client?.destroy();
  }
}
