/**
 * The one interface every sender implements (SMTP, Graph, EWS). A message is prepared once
 * (fixed Message-ID, raw MIME stored in the outbox) and handed over as bytes, so a retry sends
 * exactly the same message.
 */

export interface OutgoingMessage {
  /** Envelope sender (MAIL FROM). */
  from: string;
  /** Envelope recipients (RCPT TO): To and Cc. */
  to: string[];
  /** The complete RFC 5322 message, as stored in the outbox. */
  raw: Buffer;
}

export interface SendHooks {
  /**
   * Awaited when everything but the end of the message has been handed to the server, before
   * the server can accept it (SMTP: before the final "."). Whatever it commits is the line
   * between "surely not delivered" and "maybe delivered".
   */
  beforeFinal(): Promise<void>;
}

export interface SendResult {
  accepted: string[];
  rejected: string[];
  /** The server's final answer ("250 2.0.0 Ok: queued as …"). */
  response: string;
}

export interface MailSender {
  send(message: OutgoingMessage, hooks: SendHooks): Promise<SendResult>;
  close(): Promise<void>;
}
