/**
 * The router wired to the store and the WebSocket: broadcast (exactly one accept wins), decline,
 * expiry and the not-responding pause supervisors see, direct assignment, work picked up when an
 * agent becomes available, offers surviving a restart, transfer, the audit, overdue pauses.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus, type DomainEvent } from '../../src/domain/events.js';
import { PauseWatchService } from '../../src/services/pause-watch.service.js';
import { ApiClient, type EventStream } from '../helpers/api-client.js';
import { eventually, rawMail } from '../helpers/mail.js';
import { ADMIN_PASSWORD, startRuntime, type TestRuntime } from '../helpers/runtime.js';

const AGENTS = ['ann', 'ben', 'cal', 'dee'];

describe('routing service', () => {
  let rt: TestRuntime;
  let admin: ApiClient;
  const clients = new Map<string, ApiClient>();
  const streams = new Map<string, EventStream>();
  let seq = 0;
  let mailboxes: Record<string, number> = {};

  const connect = async () => {
    admin = new ApiClient(rt.url);
    await admin.login('admin', ADMIN_PASSWORD);
    for (const login of AGENTS) {
      const c = new ApiClient(rt.url);
      await c.login(login, `${login}-password-1`);
      clients.set(login, c);
      streams.get(login)?.close();
      streams.set(login, await c.events());
    }
    streams.get('admin')?.close();
    streams.set('admin', await admin.events());
    mailboxes = Object.fromEntries(((await admin.request('GET', '/api/v1/mailboxes')).body.items as { id: number; name: string }[]).map((m) => [m.name, m.id]));
  };
  const setState = (login: string, state: string, reason?: string) => clients.get(login)!.request('PUT', '/api/v1/me/state', { state, ...(reason ? { reason } : {}) });
  /** A new conversation in the mailbox's queue, as if the connector had committed the mail. */
  const arrive = async (mailbox: string, subject: string): Promise<number> => {
    const { store } = rt.runtime.core;
    const key = `t:${++seq}`;
    await store.transaction((r) => r.inbound.commitBatch(mailboxes[mailbox]!, { messages: [{ key, raw: rawMail({ subject }), internalDate: null }], position: { uidvalidity: 1, lastUid: seq, highestModseq: null, cursor: null }, reset: false }));
    rt.runtime.mail.ingest.kick();
    const row = await eventually(() => store.db.selectFrom('messages').select('conversation_id').where('source_key', '=', key).where('conversation_id', 'is not', null).executeTakeFirst(), 15_000, `conversation for ${subject}`);
    return row.conversation_id!;
  };
  const offersFor = (login: string, conversationId: number) => streams.get(login)!.frames.filter((f) => f.type === 'offer.created' && f.data.conversationId === conversationId);

  beforeAll(async () => {
    rt = await startRuntime('pglite');
    const c = new ApiClient(rt.url);
    await c.login('admin', ADMIN_PASSWORD);
    const mb = (name: string, queue: string) => ({ name, protocol: 'imap', host: '127.0.0.1', port: 1, security: 'none', auth: { user: `${name}@example.com`, password: 'x' }, queue, enabled: false });
    const r = await c.request('PUT', '/api/v1/config', {
      senders: [{ name: 'out', type: 'smtp', host: '127.0.0.1', port: 1, security: 'none', from: 'support@example.com' }],
      queues: [
        { name: 'broadcast', sender: 'out', skills: { vip: 5 }, routing: { broadcast: 2, offer_timeout_s: 600 } },
        { name: 'slow', sender: 'out', skills: { slow: 1 }, routing: { offer_timeout_s: 5, max_missed_offers: 1 } },
        { name: 'direct', sender: 'out', skills: { direct: 1 }, routing: { mode: 'assign' } },
        { name: 'general', sender: 'out', skills: { general: 1 } },
      ],
      mailboxes: [mb('broadcast', 'broadcast'), mb('slow', 'slow'), mb('direct', 'direct'), mb('general', 'general')],
      users: [
        { login: 'ann', roles: ['agent'], password: 'ann-password-1', skills: { vip: 9, general: 5 } },
        { login: 'ben', roles: ['agent'], password: 'ben-password-1', skills: { vip: 6, slow: 3, general: 5 } },
        { login: 'cal', roles: ['agent'], password: 'cal-password-1', skills: { direct: 2, general: 5 } },
        { login: 'dee', roles: ['agent'], password: 'dee-password-1', skills: { general: 5 } },
      ],
    });
    expect(r.status, r.text).toBe(200);
    await connect();
  });
  afterAll(async () => {
    for (const s of streams.values()) s.close();
    await rt?.close();
  });

  it('broadcast offers to two agents; the first accept wins, the other offer is withdrawn', async () => {
    await setState('ann', 'available');
    await setState('ben', 'available');
    const conv = await arrive('broadcast', 'VIP question');
    const [a] = [await streams.get('ann')!.next('offer.created', (d) => d.conversationId === conv), await streams.get('ben')!.next('offer.created', (d) => d.conversationId === conv)];
    expect((await clients.get('ann')!.request('POST', `/api/v1/offers/${a.data.id}/accept`)).status).toBe(200);
    const benOffer = offersFor('ben', conv)[0]!;
    await streams.get('ben')!.next('offer.cancelled', (d) => d.id === benOffer.data.id);
    const late = await clients.get('ben')!.request('POST', `/api/v1/offers/${benOffer.data.id}/accept`);
    expect(late.status).toBe(409);
    const c = await admin.request('GET', `/api/v1/conversations/${conv}`);
    expect(c.body).toMatchObject({ state: 'assigned', assignee: 'ann' });
  });

  it('a declined conversation goes to another agent and never back to the one who declined', async () => {
    await setState('dee', 'available');
    const conv = await arrive('general', 'General question');
    const first = await eventually(async () => AGENTS.map((l) => ({ l, f: offersFor(l, conv)[0] })).find((x) => x.f), 10_000, 'an offer');
    expect((await clients.get(first.l)!.request('POST', `/api/v1/offers/${first.f!.data.id}/decline`)).status).toBe(204);
    const second = await eventually(async () => AGENTS.filter((l) => l !== first.l).map((l) => ({ l, f: offersFor(l, conv)[0] })).find((x) => x.f), 10_000, 'the next offer');
    expect(second.l).not.toBe(first.l);
    await clients.get(second.l)!.request('POST', `/api/v1/offers/${second.f!.data.id}/accept`);
    expect(offersFor(first.l, conv)).toHaveLength(1);
    const audit = (await admin.request('GET', `/api/v1/conversations/${conv}/routing`)).body.decisions.map((d: { outcome: string; agent: string }) => `${d.outcome}:${d.agent}`);
    expect(audit).toEqual([`offered:${first.l}`, `declined:${first.l}`, `offered:${second.l}`, `accepted:${second.l}`]);
  });

  it('an offer that runs out expires; max_missed_offers pauses the agent as not responding, and supervisors see it', async () => {
    await setState('ben', 'available');
    const conv = await arrive('slow', 'Nobody answers');
    const offer = await streams.get('ben')!.next('offer.created', (d) => d.conversationId === conv);
    await streams.get('ben')!.next('offer.expired', (d) => d.id === offer.data.id, 20_000);
    const paused = await streams.get('admin')!.next('agent.state', (d) => d.login === 'ben' && d.reason === 'not-responding', 10_000);
    expect(paused.data.state).toBe('paused');
    const agents = (await admin.request('GET', '/api/v1/agents?limit=500')).body.items;
    expect(agents.find((x: { login: string }) => x.login === 'ben')).toMatchObject({ state: 'paused', reason: 'not-responding' });
    expect((await admin.request('GET', `/api/v1/conversations/${conv}`)).body.state).toBe('queued');
  });

  it('assign mode gives the conversation straight to an agent', async () => {
    await setState('cal', 'available');
    const conv = await arrive('direct', 'Assign me');
    await streams.get('cal')!.next('conversation.updated', (d) => d.id === conv && d.state === 'assigned');
    expect((await admin.request('GET', `/api/v1/conversations/${conv}`)).body).toMatchObject({ state: 'assigned', assignee: 'cal' });
    expect(offersFor('cal', conv)).toHaveLength(0);
  });

  it('waiting work goes to an agent the moment they become available', async () => {
    for (const l of AGENTS) await setState(l, 'offline');
    const conv = await arrive('general', 'Waiting for someone');
    await new Promise((r) => setTimeout(r, 300));
    expect((await admin.request('GET', `/api/v1/conversations/${conv}`)).body.state).toBe('queued');
    await setState('dee', 'available');
    await streams.get('dee')!.next('offer.created', (d) => d.conversationId === conv, 10_000);
  });

  it('a pending offer survives a restart and can still be accepted', async () => {
    const conv = await arrive('general', 'Across a restart');
    const offer = await streams.get('dee')!.next('offer.created', (d) => d.conversationId === conv, 10_000);
    for (const s of streams.values()) s.close();
    streams.clear();
    rt = await rt.restart();
    await connect();
    const open = (await clients.get('dee')!.request('GET', '/api/v1/me/offers')).body;
    expect(open.map((o: { id: number }) => o.id)).toContain(offer.data.id);
    expect((await clients.get('dee')!.request('POST', `/api/v1/offers/${offer.data.id}/accept`)).body).toEqual({ conversationId: conv });
  });

  it('a transfer to another queue routes it there', async () => {
    await setState('ann', 'available');
    const conv = await arrive('general', 'Belongs to VIP');
    const offer = await eventually(async () => AGENTS.map((l) => ({ l, f: offersFor(l, conv)[0] })).find((x) => x.f), 10_000, 'an offer');
    await clients.get(offer.l)!.request('POST', `/api/v1/offers/${offer.f!.data.id}/accept`);
    const t = await admin.request('POST', `/api/v1/conversations/${conv}/transfer`, { queue: 'broadcast' });
    expect(t.body).toMatchObject({ queue: 'broadcast' });
    await eventually(async () => offersFor('ann', conv).length > 0 || offersFor('ben', conv).length > 0, 10_000, 'an offer in the new queue');
  });

  it('a pause past its reason\'s max_minutes is flagged to supervisors once', async () => {
    await setState('dee', 'paused', 'break');
    const { store } = rt.runtime.core;
    const events: DomainEvent[] = [];
    const bus = new EventBus();
    bus.subscribe((e) => events.push(e));
    const watch = new PauseWatchService({ store, bus, logger: pino({ level: 'silent' }), now: () => Date.now() + 16 * 60_000 });
    expect(await watch.check()).toBeGreaterThanOrEqual(1);
    expect(await watch.check()).toBe(0);
    expect(events.find((e) => e.type === 'agent.pause.overdue' && (e.data as { login: string }).login === 'dee')?.data).toMatchObject({ reason: 'break', maxMinutes: 15 });
    const agents = (await admin.request('GET', '/api/v1/agents?limit=500')).body.items;
    expect(agents.find((x: { login: string }) => x.login === 'dee')).toMatchObject({ state: 'paused', pauseMaxMinutes: 15, pauseOverdue: false });
  });
});
