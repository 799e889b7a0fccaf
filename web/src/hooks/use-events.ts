/**
 * The live event stream (`/api/v1/events`): one WebSocket for the app, reconnecting with backoff
 * when it drops, and a subscription per event type. `connected` drives the "live" indicator;
 * `epoch` counts (re)connections, so views refetch what they may have missed while offline.
 */
import { createContext, useCallback, useContext, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { EventFrame } from '../api/types.js';

type Listener = (frame: EventFrame) => void;

export interface EventStream {
  connected: boolean;
  /** Increments on every successful (re)connection. */
  epoch: number;
  subscribe: (type: string, fn: (data: any) => void) => () => void;
}

export function useEventStream(enabled: boolean): EventStream {
  const listeners = useRef(new Map<string, Set<Listener>>());
  const [connected, setConnected] = useState(false);
  const [epoch, setEpoch] = useState(0);

  useEffect(() => {
    if (!enabled) return;
    let socket: WebSocket | undefined;
    let retry = 0;
    let timer: number | undefined;
    let stopped = false;
    const open = () => {
      const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/events`;
      socket = new WebSocket(url);
      socket.onopen = () => {
        retry = 0;
        setConnected(true);
        setEpoch((n) => n + 1);
      };
      socket.onmessage = (msg) => {
        const frame = JSON.parse(String(msg.data)) as EventFrame;
        for (const fn of listeners.current.get(frame.type) ?? []) fn(frame);
        for (const fn of listeners.current.get('*') ?? []) fn(frame);
      };
      socket.onclose = () => {
        setConnected(false);
        if (stopped) return;
        const delay = Math.min(30_000, 500 * 2 ** retry++) * (0.5 + Math.random() / 2);
        timer = window.setTimeout(open, delay);
      };
    };
    open();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      socket?.close();
    };
  }, [enabled]);

  // Stable across renders, so effects that subscribe do not resubscribe on every render.
  const subscribe = useCallback((type: string, fn: (data: any) => void) => {
    const set = listeners.current.get(type) ?? new Set<Listener>();
    const wrapped: Listener = (frame) => fn(frame.data);
    set.add(wrapped);
    listeners.current.set(type, set);
    return () => void set.delete(wrapped);
  }, []);
  return useMemo(() => ({ connected, epoch, subscribe }), [connected, epoch, subscribe]);
}

/** The app's one stream, handed down by the workspace. */
export const EventsContext = createContext<EventStream>({ connected: false, epoch: 0, subscribe: () => () => undefined });

export function useEvents(): EventStream {
  return useContext(EventsContext);
}

/**
 * Subscribes `fn` to an event type for the component's life. The latest `fn` is called, so it
 * may close over fresh state without resubscribing.
 */
export function useEvent<T>(type: string, fn: (data: T) => void): void {
  const { subscribe } = useEvents();
  const latest = useRef(fn);
  useLayoutEffect(() => {
    latest.current = fn;
  });
  useEffect(() => subscribe(type, (data: T) => latest.current(data)), [subscribe, type]);
}
