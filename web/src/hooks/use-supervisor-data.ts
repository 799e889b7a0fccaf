/**
 * Live numbers for supervisors: queues (GET /queues) and agents (GET /agents). Agent rows follow
 * `agent.state` at once; both lists are reloaded after `conversation.updated` (waiting counts,
 * loads) and every 15 s as a safety net, since not every change has an event.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError, listAll } from '../api/client.js';
import type { AgentRow, AgentStateEvent, QueueStats } from '../api/types.js';
import { useEvent, useEvents } from './use-events.js';

const REFRESH_MS = 15_000;

export function useSupervisorData() {
  const { epoch } = useEvents();
  const [queues, setQueues] = useState<QueueStats[] | null>(null);
  const [agents, setAgents] = useState<AgentRow[] | null>(null);
  const [error, setError] = useState<{ message: string; hint?: string } | null>(null);
  const [loadedAt, setLoadedAt] = useState<number | null>(null);
  const timer = useRef<number | undefined>(undefined);

  const load = useCallback(async () => {
    try {
      const [q, a] = await Promise.all([listAll<QueueStats>('/queues'), listAll<AgentRow>('/agents')]);
      setQueues(q);
      setAgents(a);
      setError(null);
      setLoadedAt(Date.now());
    } catch (err) {
      setError(describeError(err));
    }
  }, []);

  useEffect(() => {
    if (epoch === 0) return;
    void load();
    const t = window.setInterval(() => void load(), REFRESH_MS);
    return () => window.clearInterval(t);
  }, [epoch, load]);

  const reloadSoon = useCallback(() => {
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => void load(), 500);
  }, [load]);
  useEffect(() => () => window.clearTimeout(timer.current), []);

  useEvent<AgentStateEvent>('agent.state', (e) => {
    setAgents((list) => list && list.map((a) => (a.login === e.login ? { ...a, state: e.state, reason: e.reason, since: e.since } : a)));
    reloadSoon();
  });
  useEvent('conversation.updated', reloadSoon);

  return { queues, agents, error, loadedAt };
}
