/**
 * Email address normalization. Two forms:
 * - {@link normalizeAddress}: for storage and display. The domain is case-insensitive (RFC 5321
 *   §2.4, RFC 1035 §2.3.3) and lower-cased; the local part is kept as written, because RFC 5321
 *   §2.4 lets a server treat it case-sensitively.
 * - {@link addressKey}: for comparing (is this sender the conversation's customer, have we
 *   auto-replied to them). Practically every mail system treats local parts case-insensitively,
 *   and a customer writing once as `John@` and once as `john@` is the same customer; the domain
 *   is compared in its ASCII (punycode, RFC 5890) form so `bücher.de` equals `xn--bcher-kva.de`.
 */
import { domainToASCII } from 'node:url';

/** Trims, drops `mailto:` and angle brackets, lower-cases the domain. '' when there is no `local@domain`. */
export function normalizeAddress(input: string | null | undefined): string {
  let s = String(input ?? '').trim();
  if (/^mailto:/i.test(s)) s = s.slice(7);
  s = s.replace(/^<+/, '').replace(/>+$/, '').trim();
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return '';
  const local = s.slice(0, at).trim();
  const domain = s
    .slice(at + 1)
    .trim()
    .replace(/\.+$/, '') // a trailing root dot names the same domain (RFC 1034 §3.1)
    .normalize('NFC')
    .toLowerCase();
  if (!local || !domain || /\s/.test(local) || /[\s@<>]/.test(domain)) return '';
  return `${local}@${domain}`;
}

/** The comparison key of an address: lower-case, domain in ASCII. '' when not an address. */
export function addressKey(input: string | null | undefined): string {
  const n = normalizeAddress(input);
  if (!n) return '';
  const at = n.lastIndexOf('@');
  const domain = n.slice(at + 1);
  const ascii = /^[\x20-\x7e]*$/.test(domain) ? domain : domainToASCII(domain) || domain;
  return `${n.slice(0, at).toLowerCase()}@${ascii.toLowerCase()}`;
}

/** True when both are the same mailbox by {@link addressKey} (and both are addresses). */
export function sameAddress(a: string | null | undefined, b: string | null | undefined): boolean {
  const ka = addressKey(a);
  return ka !== '' && ka === addressKey(b);
}

/** The domain of an address (lower-case), '' when none. */
export function addressDomain(input: string | null | undefined): string {
  const n = normalizeAddress(input);
  return n ? n.slice(n.lastIndexOf('@') + 1) : '';
}

/** The local part of an address as written, '' when none. */
export function addressLocalPart(input: string | null | undefined): string {
  const n = normalizeAddress(input);
  return n ? n.slice(0, n.lastIndexOf('@')) : '';
}
