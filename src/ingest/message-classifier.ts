/**
 * What kind of message this is, for routing ("does it create work for an agent?"), the loop guard
 * ("may we auto-acknowledge it?") and the outbox ("which of our messages bounced?"). Pure: reads a
 * `ParsedMessage` (headers, subject, captured report parts), never the network.
 */
import { detectAutoReply, detectMailingList, type AutoReplySignals, type ListSignals } from './auto-reply-detector.js';
import { addressLocalPart } from './address-normalizer.js';
import type { ParsedMessage, ReportPart } from './parse-types.js';
import {
  messageIdOfHeaderBlock,
  parseDeliveryStatus,
  parseDispositionNotification,
  parseFeedbackReport,
  type DeliveryReport,
  type DispositionNotification,
  type FeedbackReport,
} from './report-parser.js';
import { parseCalendar, type CalendarInfo } from './calendar-reader.js';

/**
 * The primary kind, most specific first: a bounce that is also auto-submitted is a `bounce`.
 * - `bounce`: a delivery report with at least one failed recipient (RFC 3464) or a non-standard bounce;
 * - `delivery-report`: delayed / delivered / relayed notices;
 * - `abuse-report`: ARF feedback (RFC 5965);
 * - `read-receipt`: a disposition notification (RFC 8098);
 * - `auto-reply`: out-of-office and other automatic answers (RFC 3834);
 * - `auto-generated`: notifications from no-reply senders and the like;
 * - `calendar`: an invitation, answer or cancellation (iMIP, RFC 6047);
 * - `list`: mailing list or bulk mail;
 * - `human`: everything else.
 */
export type MessageKind = 'bounce' | 'delivery-report' | 'abuse-report' | 'read-receipt' | 'auto-reply' | 'auto-generated' | 'calendar' | 'list' | 'human';

export interface Classification {
  kind: MessageKind;
  /**
   * Sent by a machine: by default it creates no work for agents (kept and visible) and never gets
   * an auto-acknowledgement. False for `human` and `calendar`.
   */
  automated: boolean;
  /** Why, for the audit and the UI ("auto-reply: Auto-Submitted: auto-replied"). */
  signals: string[];
  autoReply: AutoReplySignals;
  list: ListSignals;
  /** Set for `bounce` and `delivery-report`. */
  delivery: DeliveryReport | null;
  /** Set for `abuse-report`. */
  feedback: FeedbackReport | null;
  /** Set for `read-receipt`. */
  disposition: DispositionNotification | null;
  /** Set when the message carries a calendar object (also for other kinds). */
  calendar: CalendarInfo | null;
}

/** The parts of a `ParsedMessage` classification reads. */
export type ClassifierInput = Pick<
  ParsedMessage,
  'headers' | 'subject' | 'from' | 'returnPath' | 'contentType' | 'contentTypeParams' | 'reportParts' | 'embeddedMessages' | 'inReplyTo'
>;

const BOUNCE_SUBJECT =
  /^\s*(?:undeliver(?:ed|able)|delivery (?:status notification \((?:failure|delay)\)|failure|has failed|failed)|returned mail|mail delivery (?:failed|failure|system)|failure notice|non[- ]?delivery|unzustellbar|nicht zustellbar|non remis|non distribuable|no se puede entregar|mancata consegna|onbestelbaar)/i;

const part = (msg: ClassifierInput, ...types: string[]): ReportPart | undefined => msg.reportParts.find((p) => types.includes(p.contentType));

/** The Message-ID of the message a report is about: the returned headers, the embedded copy, or In-Reply-To. */
function originalMessageId(msg: ClassifierInput): string | null {
  for (const p of msg.reportParts) {
    if (['text/rfc822-headers', 'message/rfc822', 'message/global', 'message/global-headers'].includes(p.contentType)) {
      const id = messageIdOfHeaderBlock(p.text);
      if (id) return id;
    }
  }
  for (const e of msg.embeddedMessages) if (e.messageId) return e.messageId;
  return msg.inReplyTo[0] ?? null;
}

function heuristicBounce(msg: ClassifierInput): DeliveryReport | null {
  const local = addressLocalPart(msg.from?.address).toLowerCase();
  const failed = (msg.headers['x-failed-recipients'] ?? []).flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
  const daemon = /^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon)$/.test(local);
  if (failed.length === 0 && !(daemon && (BOUNCE_SUBJECT.test(msg.subject) || msg.returnPath === '')) && !(msg.returnPath === '' && BOUNCE_SUBJECT.test(msg.subject))) return null;
  return {
    source: 'heuristic',
    reportingMta: null,
    originalMessageId: originalMessageId(msg),
    originalEnvelopeId: null,
    recipients: failed.map((recipient) => ({ recipient, originalRecipient: null, action: 'failed', status: null, permanent: true, diagnostic: null, remoteMta: null })),
  };
}

/** Classifies a parsed message. Pure; never throws for any parsed message. */
export function classifyMessage(msg: ClassifierInput): Classification {
  const autoReply = detectAutoReply(msg);
  const list = detectMailingList(msg);
  const reportType = (msg.contentTypeParams['report-type'] ?? '').toLowerCase();
  const isReport = msg.contentType === 'multipart/report';
  const signals: string[] = [];

  let delivery: DeliveryReport | null = null;
  const dsnPart = part(msg, 'message/delivery-status', 'message/global-delivery-status');
  if (dsnPart) {
    delivery = { ...parseDeliveryStatus(dsnPart.text), originalMessageId: originalMessageId(msg) };
    signals.push(`delivery status report (${delivery.recipients.map((r) => `${r.recipient}: ${r.action}${r.status ? ` ${r.status}` : ''}`).join(', ') || 'no recipients'})`);
  } else if (isReport && reportType === 'delivery-status') {
    delivery = { source: 'dsn', reportingMta: null, originalMessageId: originalMessageId(msg), originalEnvelopeId: null, recipients: [] };
    signals.push('multipart/report; report-type=delivery-status');
  } else {
    delivery = heuristicBounce(msg);
    if (delivery) signals.push('bounce (sender, subject or X-Failed-Recipients)');
  }

  let feedback: FeedbackReport | null = null;
  const arfPart = part(msg, 'message/feedback-report');
  if (arfPart || (isReport && reportType === 'feedback-report')) {
    feedback = { ...parseFeedbackReport(arfPart?.text ?? ''), originalMessageId: originalMessageId(msg) };
    signals.push(`abuse feedback report (${feedback.feedbackType})`);
  }

  let disposition: DispositionNotification | null = null;
  const mdnPart = part(msg, 'message/disposition-notification', 'message/global-disposition-notification');
  if (mdnPart || (isReport && reportType === 'disposition-notification')) {
    disposition = parseDispositionNotification(mdnPart?.text ?? '');
    disposition.originalMessageId ??= originalMessageId(msg);
    signals.push(`disposition notification (${disposition.disposition || 'unknown'})`);
  }

  const calPart = part(msg, 'text/calendar', 'application/ics');
  const calendar = calPart ? parseCalendar(calPart.text, calPart.params.method) : null;
  if (calendar) signals.push(`calendar ${calendar.method ?? 'object'}`);

  let kind: MessageKind;
  if (delivery && (delivery.recipients.length === 0 || delivery.recipients.some((r) => r.action === 'failed'))) kind = 'bounce';
  else if (delivery) kind = 'delivery-report';
  else if (feedback) kind = 'abuse-report';
  else if (disposition) kind = 'read-receipt';
  else if (autoReply.autoReply) kind = 'auto-reply';
  else if (calendar) kind = 'calendar';
  else if (autoReply.autoGenerated) kind = 'auto-generated';
  else if (list.list) kind = 'list';
  else kind = 'human';

  return {
    kind,
    automated: kind !== 'human' && kind !== 'calendar',
    signals: [...signals, ...autoReply.signals, ...list.signals],
    autoReply,
    list,
    delivery,
    feedback,
    disposition,
    calendar,
  };
}
