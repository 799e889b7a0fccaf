/**
 * The ingest steps, raw bytes in, decisions out: the public surface for `services/ingest`.
 * Nothing here touches the database or the network.
 */
export * from './parse-types.js';
export { parseFailure, parseFailureToAppError } from './parse-failure.js';
export { parseMessage } from './mime-parser.js';
export { ParserPool, type ParserPoolOptions, type ParserPoolStats } from './parser-pool.js';
export { normalizeMessageId } from './header-fields.js';
export { createReplyMessageId, verifyReplyToken, looksLikeReplyToken, REPLY_TOKEN_PREFIX, type ReplyTokenKey, type ReplyMessageId, type ReplyTokenCheck } from './reply-token.js';
export {
  resolveThread,
  threadingKeys,
  referencedIds,
  subjectNumbers,
  lookupsFromMaps,
  type ConversationRef,
  type ThreadLookups,
  type ThreadInput,
  type ThreadOptions,
  type ThreadDecision,
  type ThreadVia,
  type RejectedCandidate,
} from './thread-resolver.js';
export { classifyMessage, type Classification, type MessageKind, type ClassifierInput } from './message-classifier.js';
export { detectAutoReply, detectMailingList, type AutoReplySignals, type ListSignals } from './auto-reply-detector.js';
export {
  parseDeliveryStatus,
  parseFeedbackReport,
  parseDispositionNotification,
  type DeliveryReport,
  type DeliveryRecipient,
  type FeedbackReport,
  type DispositionNotification,
} from './report-parser.js';
export { parseCalendar, type CalendarInfo } from './calendar-reader.js';
export { detectLanguage, stripQuotedText, type LanguageDetection, type LanguageOptions } from './language-detector.js';
export { sanitizeHtml, htmlTextFallback, REMOTE_IMAGE_ATTRIBUTE, type SanitizeOptions, type SanitizeResult } from './html-sanitizer.js';
export { sanitizeStyleAttribute, sanitizeStylesheet } from './css-sanitizer.js';
export { htmlToPlainText } from './html-text-converter.js';
export { sanitizeHeaderValue, hasHeaderUnsafeCharacters, escapeForDisplay, hasBidiControls, safeFilename, safeDisplayName, safeHeaderAddress } from './header-safety.js';
export { normalizeAddress, addressKey, sameAddress, addressDomain, addressLocalPart } from './address-normalizer.js';
export { decideAutoAck, autoAckHeaders, DEFAULT_AUTO_REPLY_LIMIT, type LoopGuardInput, type LoopGuardDecision, type LoopGuardReason } from './loop-guard.js';
export { prepareDisplay, resolveDisplayHtml } from './display-prep.js';
