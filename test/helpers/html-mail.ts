/** Raw test emails with an HTML part and attachments (multipart/mixed over multipart/alternative). */
import { randomBytes } from 'node:crypto';

export interface HtmlMail {
  /** Display name (may hold any Unicode: it is RFC 2047-encoded) and address of the sender. */
  fromName?: string;
  fromAddress?: string;
  subject: string;
  html: string;
  text?: string;
  messageId?: string;
  attachments?: { filename: string; contentType: string; content: Buffer }[];
  /** Parts the HTML shows by `cid:` (multipart/related, RFC 2387). */
  inline?: { cid: string; contentType: string; content: Buffer }[];
}

/** RFC 2047 encoded-word (base64) when the text is not plain ASCII. */
const encodeWord = (s: string) => (/^[\x20-\x7e]*$/.test(s) ? s : `=?UTF-8?B?${Buffer.from(s).toString('base64')}?=`);

/** RFC 2047 §5: an encoded-word stands alone (never inside quotes); a plain name is quoted. */
const displayName = (s: string) => (/^[\x20-\x7e]*$/.test(s) ? `"${s.replace(/["\\]/g, '\\$&')}"` : encodeWord(s));

/** RFC 2231 parameter value for a file name (UTF-8, percent-encoded). */
const filenameParam = (name: string) => `filename*=UTF-8''${encodeURIComponent(name)}`;

const b64 = (b: Buffer) => b.toString('base64').replace(/.{1,76}/g, '$&\r\n');

export function rawHtmlMail(m: HtmlMail): Buffer {
  const id = m.messageId ?? `${randomBytes(8).toString('hex')}@customer.example`;
  const mixed = `mixed-${randomBytes(6).toString('hex')}`;
  const alt = `alt-${randomBytes(6).toString('hex')}`;
  const related = `rel-${randomBytes(6).toString('hex')}`;
  const alternative = [
    `Content-Type: multipart/alternative; boundary="${alt}"`,
    '',
    `--${alt}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64(Buffer.from(m.text ?? 'See the HTML part.')),
    `--${alt}`,
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64(Buffer.from(m.html)),
    `--${alt}--`,
  ];
  const body = m.inline?.length
    ? [
        `Content-Type: multipart/related; boundary="${related}"`,
        '',
        `--${related}`,
        ...alternative,
        ...m.inline.flatMap((p) => [`--${related}`, `Content-Type: ${p.contentType}`, `Content-ID: <${p.cid}>`, 'Content-Disposition: inline', 'Content-Transfer-Encoding: base64', '', b64(p.content)]),
        `--${related}--`,
      ]
    : alternative;
  const lines = [
    `From: ${displayName(m.fromName ?? 'Carla Customer')} <${m.fromAddress ?? 'carla@customer.example'}>`,
    'To: support@example.com',
    `Subject: ${encodeWord(m.subject)}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${id}>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${mixed}"`,
    '',
    `--${mixed}`,
    ...body,
    ...(m.attachments ?? []).flatMap((a) => [
      `--${mixed}`,
      `Content-Type: ${a.contentType}`,
      `Content-Disposition: attachment; ${filenameParam(a.filename)}`,
      'Content-Transfer-Encoding: base64',
      '',
      b64(a.content),
    ]),
    `--${mixed}--`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}
