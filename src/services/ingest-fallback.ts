/**
 * What an admin-released message that still cannot be parsed shows: the Subject and From found
 * in its raw header lines (best effort), and a note that says why and where the original is.
 */
import { normalizeAddress, sanitizeHeaderValue } from '../ingest/index.js';

export interface FallbackFields {
  subject: string;
  fromAddress: string;
  fromName: string | null;
  text: string;
}

function header(raw: Buffer, name: string): string | null {
  const head = raw.subarray(0, Math.min(raw.length, 64 * 1024)).toString('latin1').split(/\r?\n\r?\n/)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(unfolded);
  return m ? m[1]!.trim() : null;
}

export function fallbackFields(raw: Buffer, messageId: number, reason: string, why: 'released' | 'too-large' = 'released'): FallbackFields {
  const from = header(raw, 'From') ?? '';
  const address = /<([^<>\s]+@[^<>\s]+)>/.exec(from)?.[1] ?? /([^\s<>"]+@[^\s<>"]+)/.exec(from)?.[1] ?? '';
  const name = from.replace(/<[^>]*>/, '').replace(/"/g, '').trim();
  return {
    subject: sanitizeHeaderValue(header(raw, 'Subject') ?? '(no subject)').slice(0, 500),
    fromAddress: normalizeAddress(address) || '(unknown sender)',
    fromName: name && name !== address ? sanitizeHeaderValue(name).slice(0, 200) : null,
    text:
      why === 'too-large'
        ? `This message is ${(raw.length / 2 ** 20).toFixed(1)} MB, over this queue's limit (max_message_mb), so Mailroom stored it without opening it (${reason}). Download the original with GET /api/v1/messages/${messageId}/raw to read it.`
        : `Mailroom could not read this message (${reason}). An administrator released it anyway. Download the original with GET /api/v1/messages/${messageId}/raw to read it.`,
  };
}
