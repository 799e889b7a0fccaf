/**
 * The IMAP connection test of API.md: dns → tcp or proxy → tls (implicit, or after STARTTLS) →
 * auth → folder. The first failing step ends it; every step says what it did or what to fix.
 */
import { performance } from 'node:perf_hooks';
import type { MailboxSpec } from '../../config/schema.js';
import type { ConnectionStep } from '../net/connection-steps.js';
import { runStep } from '../net/connection-steps.js';
import type { TlsOutcome } from '../net/tls-policy.js';
import { classifyImapError } from './imap-errors.js';
import { createImapClient } from './imap-source.js';

export interface ConnectionTestResult {
  ok: boolean;
  steps: ConnectionStep[];
}

const TLS_CODES = /^(TLS_|STARTTLS_)/;

/** A `tls` step for an upgrade done inside the protocol (STARTTLS, STLS). */
export function tlsStep(how: string, outcome: TlsOutcome, ms: number): ConnectionStep {
  const c = outcome.certificate;
  return {
    name: 'tls',
    ok: true,
    ms,
    detail: `${how}: ${c.protocol ?? 'TLS'}, certificate for ${c.subject} issued by ${c.issuer}, ${c.daysLeft} days left, accepted by ${outcome.verifiedBy}`,
    warnings: outcome.warnings,
    certificate: c,
  };
}

export async function testImapConnection(spec: MailboxSpec): Promise<ConnectionTestResult> {
  const steps: ConnectionStep[] = [];
  const ctx = { host: spec.host, folder: spec.folder, port: spec.port };
  let starttls: { outcome: TlsOutcome; ms: number } | undefined;
  let client: Awaited<ReturnType<typeof createImapClient>> | undefined;
  try {
    client = await createImapClient(spec, {}, { steps, onStartTls: (outcome, ms) => (starttls = { outcome, ms }) });
    client.on('error', () => undefined);
    const started = performance.now();
    try {
      await client.connect();
    } catch (err) {
      const e = classifyImapError(err, ctx);
      steps.push({
        name: TLS_CODES.test(e.code) ? 'tls' : 'auth',
        ok: false,
        code: e.code,
        ms: Math.round(performance.now() - started),
        detail: e.message,
        ...(e.hint ? { hint: e.hint } : {}),
        warnings: [],
      });
      return { ok: false, steps };
    }
    if (starttls) steps.push(tlsStep('STARTTLS', starttls.outcome, starttls.ms));
    steps.push({ name: 'auth', ok: true, ms: Math.round(performance.now() - started), detail: `signed in as ${spec.auth.user ?? '(oauth)'}`, warnings: [] });
    await runStep(steps, 'folder', async () => {
      try {
        const mb = await client!.mailboxOpen(spec.folder, { readOnly: true });
        return { value: undefined, detail: `${spec.folder}: ${mb.exists} message(s), UIDVALIDITY ${mb.uidValidity}` };
      } catch (err) {
        throw classifyImapError(err, ctx);
      }
    });
    return { ok: true, steps };
  } catch {
    return { ok: false, steps };
  } finally {
    if (client?.usable) await client.logout().catch(() => undefined);
    client?.close();
  }
}
