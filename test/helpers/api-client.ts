/** A small HTTP client for tests: keeps the session cookie and sends the CSRF token like the web app. */
import WebSocket from 'ws';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

export class ApiClient {
  cookie: string | undefined;
  csrfToken: string | undefined;
  bearer: string | undefined;

  constructor(readonly baseUrl: string) {}

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const h: Record<string, string> = { ...headers };
    if (this.cookie) h.cookie = this.cookie;
    if (this.bearer) h.authorization = `Bearer ${this.bearer}`;
    if (this.csrfToken && method !== 'GET' && !('x-csrf-token' in h)) h['x-csrf-token'] = this.csrfToken;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers: h, ...(payload !== undefined ? { body: payload } : {}) });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) {
      const m = /mailroom_session=([^;]*)/.exec(setCookie);
      if (m) this.cookie = m[1] ? `mailroom_session=${m[1]}` : undefined;
    }
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, headers: res.headers, text };
  }

  async login(login: string, password: string): Promise<ApiResponse> {
    const res = await this.request('POST', '/api/v1/session', { login, password });
    if (res.status === 200) this.csrfToken = res.body.csrfToken;
    return res;
  }

  /** Opens the event WebSocket with this client's credentials; frames are collected in order. */
  async events(origin?: string): Promise<EventStream> {
    const url = `${this.baseUrl.replace(/^http/, 'ws')}/api/v1/events`;
    const headers: Record<string, string> = {};
    if (this.cookie) headers.cookie = this.cookie;
    if (this.bearer) headers.authorization = `Bearer ${this.bearer}`;
    if (origin) headers.origin = origin;
    const ws = new WebSocket(url, { headers });
    const stream = new EventStream(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    return stream;
  }
}

export class EventStream {
  readonly frames: { type: string; data: any }[] = [];
  private waiters: { match: (f: { type: string; data: any }) => boolean; resolve: (f: { type: string; data: any }) => void }[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as { type: string; data: any };
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
  }

  /** Resolves with the first frame (already received or future) that matches, or rejects after `ms`. */
  next(type: string, where: (data: any) => boolean = () => true, ms = 10_000): Promise<{ type: string; data: any }> {
    const match = (f: { type: string; data: any }) => f.type === type && where(f.data);
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} event within ${ms} ms; got: ${this.frames.map((f) => f.type).join(', ')}`)), ms);
      this.waiters.push({ match, resolve: (f) => (clearTimeout(timer), resolve(f)) });
    });
  }

  close(): void {
    this.ws.close();
  }
}
