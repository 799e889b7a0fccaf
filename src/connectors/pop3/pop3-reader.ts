/**
 * The POP3 wire format, pure (no I/O): status lines (RFC 1939 §3, with RFC 2449 §8 response
 * codes) and multi-line bodies with byte-stuffing removed, decoded incrementally so a message is
 * never held whole by the parser and any split of the byte stream gives the same result.
 */

/** A status line: `+OK text` or `-ERR [CODE] text`. */
export interface Pop3Status {
  ok: boolean;
  /** The RFC 2449 §8 extended response code without brackets (`IN-USE`, `SYS/TEMP`), if any. */
  code: string | undefined;
  /** What follows the indicator (and the code), trimmed. */
  text: string;
}

/**
 * RFC 2449 §4 limits a response line to 512 octets; servers in the wild exceed it (long
 * greetings, verbose errors), so allow far more before calling the stream broken.
 */
export const MAX_STATUS_LINE = 8192;

/** Thrown for bytes that cannot be POP3 (no status indicator, an endless line). */
export class Pop3ProtocolViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Pop3ProtocolViolation';
  }
}

/** Parses one status line (without its line ending). */
export function parseStatusLine(line: string): Pop3Status {
  // RFC 1939 §3: "+OK" or "-ERR", then optionally a space and text. Case-insensitive in the
  // wild; a bare "+OK"/"-ERR" is common.
  const m = /^(\+OK|-ERR)(?:\s(.*))?$/i.exec(line);
  if (!m) throw new Pop3ProtocolViolation(`expected +OK or -ERR, got "${printable(line, 80)}"`);
  const ok = m[1]!.toUpperCase() === '+OK';
  let text = (m[2] ?? '').trim();
  let code: string | undefined;
  // RFC 2449 §8: "[" resp-level *("/" resp-level) "]" right after the indicator, no spaces.
  const c = /^\[([A-Za-z0-9-]+(?:\/[A-Za-z0-9-]+)*)\]\s*/.exec(text);
  if (c) {
    code = c[1]!.toUpperCase();
    text = text.slice(c[0].length);
  }
  return { ok, code, text };
}

/** Text for error messages: control characters shown as `\xNN`, cut at `max`. */
export function printable(s: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const shown = s.slice(0, max).replace(/[\x00-\x1f\x7f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return s.length > max ? `${shown}…` : shown;
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CR_BUF = Buffer.from([CR]);

const enum State {
  /** At the first octet of a line. */
  LineStart,
  /** A line began with ".": stuffing or the terminator, not known yet (the dot is held). */
  Dot,
  /** ".\r" at the start of a line (both held). */
  DotCr,
  /** Inside a line. */
  Mid,
  /** Inside a line, right after a CR that was passed on. */
  AfterCr,
}

/**
 * Undoes RFC 1939 §3 byte-stuffing of a multi-line response body, incrementally. Lines end
 * with CRLF; a line starting with "." loses that dot; a line that is exactly "." ends the
 * body. The CRLF before the terminator belongs to the body, so the output is byte-exact: a
 * bare CR or LF inside a line passes through untouched (only CRLF starts a new line).
 */
export class DotUnstuffer {
  private state = State.LineStart;
  private finished = false;

  get done(): boolean {
    return this.finished;
  }

  /**
   * Feeds the next bytes. `emit` receives the decoded body in pieces (views into `chunk` where
   * possible: copy them if kept beyond the call). Returns how many bytes of `chunk` were
   * consumed: all of them, or up to and including the terminator once it is seen.
   */
  push(chunk: Buffer, emit: (piece: Buffer) => void): number {
    if (this.finished) return 0;
    let i = 0;
    let runStart = 0;
    const flush = (end: number) => {
      if (end > runStart) emit(chunk.subarray(runStart, end));
    };
    const n = chunk.length;
    while (i < n) {
      switch (this.state) {
        case State.Mid: {
          // Fast path: nothing to change until the next CR.
          const cr = chunk.indexOf(CR, i);
          if (cr < 0) {
            i = n;
            break;
          }
          i = cr + 1;
          this.state = State.AfterCr;
          break;
        }
        case State.AfterCr: {
          const b = chunk[i]!;
          this.state = b === LF ? State.LineStart : b === CR ? State.AfterCr : State.Mid;
          i++;
          break;
        }
        case State.LineStart: {
          const b = chunk[i]!;
          if (b === DOT) {
            flush(i);
            i++;
            runStart = i;
            this.state = State.Dot;
          } else {
            this.state = b === CR ? State.AfterCr : State.Mid;
            i++;
          }
          break;
        }
        case State.Dot: {
          // The held dot is dropped in every case: stuffing, or part of the terminator.
          const b = chunk[i]!;
          if (b === CR) {
            i++;
            runStart = i;
            this.state = State.DotCr;
          } else {
            // RFC 1939 §3: a line starting with the termination octet followed by anything
            // but CRLF has its first octet stripped; what follows is ordinary content.
            this.state = State.Mid;
          }
          break;
        }
        case State.DotCr: {
          const b = chunk[i]!;
          if (b === LF) {
            this.finished = true;
            return i + 1;
          }
          // ".\r" then something else: the dot was stuffing and the CR is content.
          flush(i);
          emit(CR_BUF);
          runStart = i;
          this.state = State.AfterCr;
          break;
        }
      }
    }
    // A held dot or ".\r" is never part of the run (runStart was moved past it).
    if (this.state !== State.Dot && this.state !== State.DotCr) flush(n);
    return n;
  }
}
