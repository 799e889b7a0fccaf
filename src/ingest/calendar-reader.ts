/**
 * The few facts of a calendar object an agent needs at a glance (iCalendar, RFC 5545; sent by
 * mail as iMIP, RFC 6047): what it asks (METHOD), which event, when, from whom.
 */

export interface CalendarInfo {
  /** `REQUEST` (invitation), `REPLY` (accepted/declined), `CANCEL`, `PUBLISH`, … upper-case; null when absent. */
  method: string | null;
  uid: string | null;
  summary: string | null;
  /** DTSTART as written (e.g. `20240411T090000Z`), with its TZID when given. */
  start: string | null;
  organizer: string | null;
  /** For a REPLY: the attendee's PARTSTAT (ACCEPTED, DECLINED, TENTATIVE). */
  partstat: string | null;
}

/** Unfolds content lines (RFC 5545 §3.1: CRLF followed by one space or tab continues a line). */
function unfold(text: string): string[] {
  return text.replace(/\r?\n[ \t]/g, '').split(/\r?\n/);
}

/** `TEXT` value unescaping (RFC 5545 §3.3.11). */
function unescapeText(v: string): string {
  return v.replace(/\\([\\;,nN])/g, (_m, c: string) => (c === 'n' || c === 'N' ? '\n' : c));
}

/** Reads the first VEVENT (and the VCALENDAR's METHOD) of an iCalendar text. Never throws. */
export function parseCalendar(text: string, methodParam?: string): CalendarInfo | null {
  if (!/BEGIN:VCALENDAR/i.test(text)) return null;
  const info: CalendarInfo = { method: methodParam ? methodParam.trim().toUpperCase() : null, uid: null, summary: null, start: null, organizer: null, partstat: null };
  let inEvent = false;
  let eventSeen = false;
  for (const line of unfold(text)) {
    const m = /^([A-Za-z-]+)((?:;[^:]*)?):(.*)$/.exec(line);
    if (!m) continue;
    const name = m[1]!.toUpperCase();
    const params = m[2] ?? '';
    const value = m[3]!.trim();
    if (name === 'BEGIN' && value.toUpperCase() === 'VEVENT' && !eventSeen) inEvent = true;
    else if (name === 'END' && value.toUpperCase() === 'VEVENT' && inEvent) {
      inEvent = false;
      eventSeen = true;
    } else if (name === 'METHOD' && !info.method) info.method = value.toUpperCase();
    else if (inEvent) {
      if (name === 'UID' && !info.uid) info.uid = value;
      else if (name === 'SUMMARY' && !info.summary) info.summary = unescapeText(value);
      else if (name === 'DTSTART' && !info.start) {
        const tz = /TZID=([^;:]+)/i.exec(params)?.[1];
        info.start = tz ? `${value} (${tz})` : value;
      } else if (name === 'ORGANIZER' && !info.organizer) info.organizer = value.replace(/^mailto:/i, '');
      else if (name === 'ATTENDEE' && !info.partstat) info.partstat = /PARTSTAT=([^;:]+)/i.exec(params)?.[1]?.toUpperCase() ?? null;
    }
  }
  return info;
}
