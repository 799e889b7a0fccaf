/**
 * My conversations (GET /conversations?assignee=me): the open ones (assigned, waiting) and the
 * latest handled ones, refreshed on every `conversation.updated` I receive and on reconnect.
 * A new customer message in a conversation I am not looking at marks it unread.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError, listAll } from '../api/client.js';
import type { ConversationItem, ConversationUpdatedEvent } from '../api/types.js';
import { useEvent, useEvents } from './use-events.js';

const HANDLED_SHOWN = 20;
const UNREAD_KEY = 'mailroom.unread';

function loadUnread(): Set<number> {
  try {
    return new Set((JSON.parse(sessionStorage.getItem(UNREAD_KEY) ?? '[]') as number[]).filter(Number.isInteger));
  } catch {
    return new Set();
  }
}

const byDue = (a: ConversationItem, b: ConversationItem) => (a.slaDueAt ?? '9999').localeCompare(b.slaDueAt ?? '9999') || a.id - b.id;
const byHandled = (a: ConversationItem, b: ConversationItem) => (b.handledAt ?? b.receivedAt).localeCompare(a.handledAt ?? a.receivedAt);

export function useMyConversations(meId: number, openId: number | null) {
  const { epoch } = useEvents();
  const [active, setActive] = useState<ConversationItem[]>([]);
  const [handled, setHandled] = useState<ConversationItem[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<{ message: string; hint?: string } | null>(null);
  const [unread, setUnread] = useState(loadUnread);
  const timer = useRef<number | undefined>(undefined);

  const load = useCallback(async () => {
    try {
      // The list is ordered by id, oldest first: open work is small, handled work grows, so the
      // two are asked for separately and only the latest handled ones are kept.
      const [assigned, waiting, done] = await Promise.all([
        listAll<ConversationItem>('/conversations?assignee=me&state=assigned'),
        listAll<ConversationItem>('/conversations?assignee=me&state=waiting'),
        listAll<ConversationItem>('/conversations?assignee=me&state=handled', 4),
      ]);
      setActive([...assigned, ...waiting].sort(byDue));
      setHandled(done.sort(byHandled).slice(0, HANDLED_SHOWN));
      setError(null);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setLoaded(true);
    }
  }, []);

  useEffect(() => {
    if (epoch > 0) void load();
  }, [epoch, load]);

  // Bursts of events (accept, reply, delivery) make one reload, not one each.
  const reloadSoon = useCallback(() => {
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => void load(), 250);
  }, [load]);
  useEffect(() => () => window.clearTimeout(timer.current), []);

  const markUnread = useCallback((id: number, on: boolean) => {
    setUnread((prev) => {
      if (prev.has(id) === on) return prev;
      const next = new Set(prev);
      if (on) next.add(id);
      else next.delete(id);
      sessionStorage.setItem(UNREAD_KEY, JSON.stringify([...next]));
      return next;
    });
  }, []);

  // Supervisors receive every conversation's updates: only those about mine cost a reload.
  useEvent<ConversationUpdatedEvent>('conversation.updated', (e) => {
    const known = active.some((c) => c.id === e.id) || handled.some((c) => c.id === e.id);
    if (!known && e.assigneeId !== meId) return;
    if (e.newMessageId !== undefined && e.id !== openId) markUnread(e.id, true);
    reloadSoon();
  });

  useEffect(() => {
    if (openId !== null) markUnread(openId, false);
  }, [openId, markUnread]);

  return { active, handled, loaded, error, unread, reload: load };
}
