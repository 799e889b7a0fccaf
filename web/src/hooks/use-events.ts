/**
 * The live event stream (`/api/v1/events`): one WebSocket for the app, reconnecting with backoff
 * when it drops, and a subscription per event type. `connected` drives the "live" indicator.
 */
import { useEffect, useRef, useState } from 'react';
import type { EventFrame } from '../api/types.js';

type Listener = (frame: EventFrame) => void;

export function useEventStream(enabled: boolean): { connected: boolean; subscribe: (type: string, fn: (data: any) => void) => () => void } {
  const listeners = useRef(new Map<string, Set<Listener>>());
  const [connected, setConnected] = useState(false);

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

  const subscribe = (type: string, fn: (data: any) => void) => {
    const set = listeners.current.get(type) ?? new Set<Listener>();
    const wrapped: Listener = (frame) => fn(frame.data);
    set.add(wrapped);
    listeners.current.set(type, set);
    return () => set.delete(wrapped);
  };
  return { connected, subscribe };
}
