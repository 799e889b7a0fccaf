/**
 * The byte side of a POP3 session: the socket, the bytes received but not yet consumed, at most
 * one answer being awaited, and a silence timer. It turns every way a connection can go wrong
 * (a close or reset while an answer is due, silence, bytes that are not POP3) into one
 * classified AppError that ends the session; after that every read fails with the same error.
 */
import type net from 'node:net';
import type { AppError } from '../../domain/errors.js';
import { classifyPop3Error, pop3ConnectionLost, pop3ProtocolError, pop3Timeout, type Pop3ErrorContext } from './pop3-errors.js';
import { DotUnstuffer, MAX_STATUS_LINE, parseStatusLine, Pop3ProtocolViolation, type Pop3Status } from './pop3-reader.js';

/** Unrequested bytes tolerated while no answer is due before calling the stream broken. */
const MAX_UNSOLICITED = 64 * 1024;

/** The socket side of one session; see the file comment. */
export class Pop3Transport {
  private socket: net.Socket;
  private pending: Buffer = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private onFail: ((err: AppError) => void) | undefined;
  private error: AppError | undefined;
  private socketError: NodeJS.ErrnoException | undefined;
  private timer: NodeJS.Timeout | undefined;
  private during = 'idle';
  private ending = false;

  constructor(
    socket: net.Socket,
    private readonly ctx: Pop3ErrorContext,
    private readonly timeoutMs: number,
  ) {
    this.socket = socket;
    this.attach(socket);
  }

  /** The error that ended the session, if it has ended. */
  get failure(): AppError | undefined {
    return this.error;
  }

  /** Writes one command line (CRLF added). */
  send(line: string): void {
    if (this.error) throw this.error;
    this.socket.write(`${line}\r\n`);
  }

  /** Reads one status line (RFC 1939 §3). */
  readStatus(during: string): Promise<Pop3Status> {
    return this.consume(during, () => {
      const lf = this.pending.indexOf(0x0a);
      if (lf < 0 || lf > MAX_STATUS_LINE) {
        if (this.pending.length > MAX_STATUS_LINE) throw new Pop3ProtocolViolation(`a response line longer than ${MAX_STATUS_LINE} octets`);
        return undefined;
      }
      // RFC 1939 §3 ends lines with CRLF; a bare LF is tolerated on status lines only.
      const end = lf > 0 && this.pending[lf - 1] === 0x0d ? lf - 1 : lf;
      const line = this.pending.toString('utf8', 0, end);
      this.pending = this.pending.subarray(lf + 1);
      return parseStatusLine(line);
    });
  }

  /**
   * Reads a multi-line body up to its terminator, unstuffed (RFC 1939 §3), handing it to `emit`
   * piece by piece; resolves with its size. More than `limit` octets, or `emit` throwing, ends
   * the session: the rest of the body cannot be skipped safely.
   */
  readBody(during: string, limit: number, emit: (piece: Buffer) => void): Promise<number> {
    const unstuffer = new DotUnstuffer();
    let total = 0;
    return this.consume(during, () => {
      if (this.pending.length === 0) return undefined;
      const chunk = this.pending;
      const used = unstuffer.push(chunk, (piece) => {
        total += piece.length;
        if (total > limit) throw new Pop3ProtocolViolation(`an answer longer than ${limit} octets`);
        emit(piece);
      });
      this.pending = chunk.subarray(used);
      return unstuffer.done ? total : undefined;
    });
  }

  /** A multi-line body as text lines (CAPA, UIDL, LIST listings). */
  async readLines(during: string, limit: number): Promise<string[]> {
    const parts: Buffer[] = [];
    const size = await this.readBody(during, limit, (piece) => parts.push(piece));
    const lines = Buffer.concat(parts, size).toString('utf8').split('\r\n');
    if (lines.at(-1) === '') lines.pop();
    return lines;
  }

  /**
   * Stops reading the socket and hands it over for TLS (RFC 2595 §4). Bytes already received
   * after the STLS answer would be plaintext injected into the TLS session (the STARTTLS
   * command-injection flaw, CVE-2011-0411): refuse them.
   */
  releaseForTls(): net.Socket {
    if (this.pending.length > 0) {
      const err = pop3ProtocolError(this.ctx, 'data arrived between the STLS answer and the TLS handshake', 'after STLS');
      this.fail(err);
      throw err;
    }
    this.detach(this.socket);
    this.socket.pause();
    return this.socket;
  }

  /** Continues on the TLS socket that replaced the released one. */
  resume(socket: net.Socket): void {
    this.socket = socket;
    this.attach(socket);
  }

  /** After QUIT: closes our side; the server's close that follows is expected. */
  end(): void {
    this.ending = true;
    this.socket.end();
    const socket = this.socket;
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  /** Ends the session with `err`: the socket goes, the awaited answer (if any) fails with it. */
  fail(err: AppError): void {
    clearTimeout(this.timer);
    this.error ??= err;
    this.detach(this.socket);
    this.socket.destroy();
    this.onFail?.(this.error);
  }

  /**
   * Runs `step` on the buffered bytes now and whenever more arrive, until it returns a value;
   * a throw ends the session (the stream can no longer be trusted). The timer measures
   * silence: each arriving chunk restarts it, so a long RETR never times out while bytes flow.
   */
  private consume<T>(during: string, step: () => T | undefined): Promise<T> {
    if (this.error) return Promise.reject(this.error);
    this.during = during;
    return new Promise<T>((resolve, reject) => {
      const finish = () => {
        this.wake = undefined;
        this.onFail = undefined;
        this.during = 'idle';
        clearTimeout(this.timer);
      };
      const run = () => {
        let value: T | undefined;
        try {
          value = step();
        } catch (err) {
          finish();
          const e = err instanceof Pop3ProtocolViolation ? pop3ProtocolError(this.ctx, err.message, during) : classifyPop3Error(err, this.ctx);
          this.fail(e);
          reject(e);
          return;
        }
        if (value !== undefined) {
          finish();
          resolve(value);
        }
      };
      this.onFail = (err) => {
        finish();
        reject(err);
      };
      this.wake = () => {
        this.armTimer(during);
        run();
      };
      this.armTimer(during);
      run();
    });
  }

  private armTimer(during: string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fail(pop3Timeout(this.ctx, during, this.timeoutMs)), this.timeoutMs);
  }

  private readonly onData = (chunk: Buffer) => {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.wake) this.wake();
    else if (this.pending.length > MAX_UNSOLICITED) this.fail(pop3ProtocolError(this.ctx, `${this.pending.length} octets nobody asked for`, 'between commands'));
  };

  private readonly onError = (err: NodeJS.ErrnoException) => {
    this.socketError ??= err;
  };

  /** Idle or after QUIT this only marks the session ended; while an answer is due it fails it. */
  private readonly onEnd = () => {
    const reset = this.socketError?.code === 'ECONNRESET' || this.socketError?.code === 'EPIPE';
    const when = this.ending ? 'after QUIT' : this.during === 'idle' ? 'the session was idle' : this.during;
    this.fail(pop3ConnectionLost(this.ctx, when, reset, this.socketError));
  };

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('end', this.onEnd);
    socket.off('close', this.onEnd);
  }
}
