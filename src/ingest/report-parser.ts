/**
 * Machine-readable reports: delivery status notifications (RFC 3464, RFC 6533), abuse feedback
 * reports (ARF, RFC 5965) and message disposition notifications (RFC 8098). Pure functions over
 * the captured text of the report part (see report-capture.ts).
 */
import { normalizeAddress } from './address-normalizer.js';
import { parseMessageIds } from './header-fields.js';

/** One field group: lower-case names, every occurrence, unfolded values. */
export type FieldGroup = Map<string, string[]>;

/**
 * Splits a report body into field groups (RFC 3464 §2.1: the per-message group, then one group
 * per recipient, separated by blank lines); folded lines (RFC 5322 §2.2.3) are unfolded.
 */
export function parseFieldGroups(text: string): FieldGroup[] {
  const groups: FieldGroup[] = [];
  let current: FieldGroup | null = null;
  let last: { name: string; values: string[] } | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      current = null;
      last = null;
      continue;
    }
    if (/^[ \t]/.test(line) && last) {
      const i = last.values.length - 1;
      last.values[i] = `${last.values[i]} ${line.trim()}`;
      continue;
    }
    const m = /^([!-9;-~]+)\s*:(.*)$/.exec(line);
    if (!m) continue;
    if (!current) {
      current = new Map();
      groups.push(current);
    }
    const name = m[1]!.toLowerCase();
    const values = current.get(name) ?? [];
    values.push(m[2]!.trim());
    current.set(name, values);
    last = { name, values };
  }
  return groups;
}

const get = (g: FieldGroup | undefined, name: string): string | null => g?.get(name)?.[0] ?? null;

/** `rfc822; user@example.com` → `user@example.com` (RFC 3464 §2.3.2: address-type ";" address). */
function typedAddress(value: string | null): string | null {
  if (!value) return null;
  const semi = value.indexOf(';');
  const addr = (semi >= 0 ? value.slice(semi + 1) : value).trim();
  return normalizeAddress(addr) || addr || null;
}

/** `smtp; 550 5.1.1 No such user` → the text after the type. */
function typedText(value: string | null): string | null {
  if (!value) return null;
  const semi = value.indexOf(';');
  return (semi >= 0 ? value.slice(semi + 1) : value).trim() || null;
}

export interface DeliveryRecipient {
  /** The recipient as the reporting MTA knew it (Final-Recipient). */
  recipient: string;
  /** The recipient as we addressed it (Original-Recipient), when reported. */
  originalRecipient: string | null;
  /** `failed`, `delayed`, `delivered`, `relayed`, `expanded` (RFC 3464 §2.3.3). */
  action: string;
  /** Enhanced status code `class.subject.detail` (RFC 3463), e.g. `5.1.1`; null when absent. */
  status: string | null;
  /** True for a permanent failure (status class 5, or action failed without a status). */
  permanent: boolean;
  /** The remote server's answer, e.g. `550 5.1.1 No such user`. */
  diagnostic: string | null;
  remoteMta: string | null;
}

/** A delivery report about a message we (or someone) sent. */
export interface DeliveryReport {
  /** `dsn` when read from a message/delivery-status part, `heuristic` for a non-standard bounce. */
  source: 'dsn' | 'heuristic';
  reportingMta: string | null;
  /** The Message-ID of the message the report is about (bare), when it can be found. */
  originalMessageId: string | null;
  /** Envelope id we set at submission (RFC 3461 ENVID), if echoed. */
  originalEnvelopeId: string | null;
  recipients: DeliveryRecipient[];
}

/** Reads a message/delivery-status body. Tolerant: unknown fields are ignored, bad groups skipped. */
export function parseDeliveryStatus(text: string): Omit<DeliveryReport, 'originalMessageId'> {
  const groups = parseFieldGroups(text);
  const perMessage = groups.find((g) => g.has('reporting-mta') || g.has('original-envelope-id') || g.has('arrival-date')) ?? undefined;
  const recipients: DeliveryRecipient[] = [];
  for (const g of groups) {
    if (g === perMessage && !g.has('final-recipient')) continue;
    const recipient = typedAddress(get(g, 'final-recipient') ?? get(g, 'original-recipient'));
    if (!recipient) continue;
    const action = (get(g, 'action') ?? '').toLowerCase().split(/[\s(]/)[0] || 'unknown';
    const status = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(get(g, 'status') ?? '')?.[0] ?? null;
    recipients.push({
      recipient,
      originalRecipient: typedAddress(get(g, 'original-recipient')),
      action,
      status,
      permanent: status ? status.startsWith('5') : action === 'failed',
      diagnostic: typedText(get(g, 'diagnostic-code')),
      remoteMta: typedText(get(g, 'remote-mta')),
    });
  }
  return {
    source: 'dsn',
    reportingMta: typedText(get(perMessage, 'reporting-mta')),
    originalEnvelopeId: get(perMessage, 'original-envelope-id'),
    recipients,
  };
}

/** An abuse or fraud report (ARF, RFC 5965 §3.1–3.2). */
export interface FeedbackReport {
  /** `abuse`, `fraud`, `auth-failure`, `not-spam`, `virus`, `other` (RFC 5965 §7.3). */
  feedbackType: string;
  userAgent: string | null;
  version: string | null;
  originalMailFrom: string | null;
  originalRcptTo: string[];
  arrivalDate: string | null;
  reportingMta: string | null;
  sourceIp: string | null;
  reportedDomains: string[];
  reportedUris: string[];
  /** The Message-ID of the reported message (bare), when it can be found. */
  originalMessageId: string | null;
}

export function parseFeedbackReport(text: string): Omit<FeedbackReport, 'originalMessageId'> {
  const g = parseFieldGroups(text)[0] ?? new Map<string, string[]>();
  const all = (name: string) => g.get(name) ?? [];
  return {
    feedbackType: (get(g, 'feedback-type') ?? 'other').toLowerCase(),
    userAgent: get(g, 'user-agent'),
    version: get(g, 'version'),
    originalMailFrom: get(g, 'original-mail-from') ? normalizeAddress(get(g, 'original-mail-from')) || get(g, 'original-mail-from') : null,
    originalRcptTo: all('original-rcpt-to').map((v) => normalizeAddress(v) || v),
    arrivalDate: get(g, 'arrival-date') ?? get(g, 'received-date'),
    reportingMta: typedText(get(g, 'reporting-mta')),
    sourceIp: get(g, 'source-ip'),
    reportedDomains: all('reported-domain'),
    reportedUris: all('reported-uri'),
  };
}

/** A read receipt or other disposition notification (RFC 8098 §3.2). */
export interface DispositionNotification {
  /** e.g. `displayed`, `deleted` (the part after the `/` of Disposition). */
  disposition: string;
  finalRecipient: string | null;
  originalMessageId: string | null;
}

export function parseDispositionNotification(text: string): DispositionNotification {
  const g = parseFieldGroups(text)[0] ?? new Map<string, string[]>();
  const disposition = (get(g, 'disposition') ?? '').split(';').pop()?.trim().toLowerCase() ?? '';
  return {
    disposition: disposition.split(/[\s/]/)[0] ?? disposition,
    finalRecipient: typedAddress(get(g, 'final-recipient')),
    originalMessageId: parseMessageIds(get(g, 'original-message-id') ?? undefined)[0] ?? null,
  };
}

/** The Message-ID in a header block (the returned message's headers of a bounce). */
export function messageIdOfHeaderBlock(text: string): string | null {
  const m = /^message-id[ \t]*:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(text);
  return m ? (parseMessageIds(m[1]!.replace(/\r?\n[ \t]+/g, ' '))[0] ?? null) : null;
}
