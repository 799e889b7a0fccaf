/**
 * One conversation with its messages (GET /conversations/:id), reloaded when it changes
 * (`conversation.updated`: a new message, a state change) and on reconnect; the delivery state
 * of my replies follows `message.delivery` live.
 */
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { api, ApiError, describeError } from '../api/client.js';
import type { Conversation, ConversationUpdatedEvent, Delivery, DeliveryEvent, Message } from '../api/types.js';
import { useEvent, useEvents } from './use-events.js';

/** queued can become sent or failed; a reload that started before the event must not undo it. */
const RANK: Record<Delivery, number> = { queued: 0, sent: 1, failed: 1 };

interface Live {
  delivery: Delivery;
  error: string | null;
}

function withLive(m: Message, live: Map<number, Live>): Message {
  const l = live.get(m.id);
  if (!l || m.direction !== 'outbound' || (m.delivery && RANK[m.delivery] > RANK[l.delivery])) return m;
  return { ...m, delivery: l.delivery, deliveryError: l.error };
}

export function useConversation(id: number) {
  const { epoch } = useEvents();
  const [conversation, setConversation] = useState<Conversation | null>(null);
  const [error, setError] = useState<{ status: number; message: string; hint?: string } | null>(null);
  const live = useRef(new Map<number, Live>());
  const seq = useRef(0);
  const current = useRef(conversation);
  useLayoutEffect(() => {
    current.current = conversation;
  });

  const load = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const c = await api<Conversation>('GET', `/conversations/${id}`);
      // A slower, older answer must not overwrite a newer one.
      if (mine !== seq.current) return;
      setConversation({ ...c, messages: c.messages.map((m) => withLive(m, live.current)) });
      setError(null);
    } catch (err) {
      if (mine !== seq.current) return;
      setError({ status: err instanceof ApiError ? err.status : 0, ...describeError(err) });
    }
  }, [id]);

  useEffect(() => {
    setConversation(null);
    setError(null);
    live.current = new Map();
  }, [id]);

  useEffect(() => {
    if (epoch > 0) void load();
  }, [epoch, load]);

  useEvent<ConversationUpdatedEvent>('conversation.updated', (e) => {
    if (e.id === id) void load();
  });

  useEvent<DeliveryEvent>('message.delivery', (e) => {
    if (e.conversationId !== id) return;
    live.current.set(e.messageId, { delivery: e.delivery, error: e.error });
    // A reply not in the list yet (just sent, or from another tab): fetch the thread.
    if (!current.current?.messages.some((m) => m.id === e.messageId)) return void load();
    setConversation((c) => c && { ...c, messages: c.messages.map((m) => (m.id === e.messageId ? { ...m, delivery: e.delivery, deliveryError: e.error } : m)) });
  });

  return { conversation, error, reload: load, setConversation };
}
