/**
 * A list read from the API (every page), loaded when the live connection (re)opens and again on
 * `reload()`, with the API's error for an ErrorNote. The caller patches it from events (`set`).
 */
import { useCallback, useEffect, useState, type Dispatch, type SetStateAction } from 'react';
import { describeError, listAll } from '../api/client.js';
import { useEvents } from './use-events.js';

export interface LiveList<T> {
  items: T[] | null;
  set: Dispatch<SetStateAction<T[] | null>>;
  error: { message: string; hint?: string } | null;
  reload: () => Promise<void>;
}

export function useLiveList<T>(path: string): LiveList<T> {
  const { epoch } = useEvents();
  const [items, set] = useState<T[] | null>(null);
  const [error, setError] = useState<{ message: string; hint?: string } | null>(null);
  const reload = useCallback(async () => {
    try {
      set(await listAll<T>(path));
      setError(null);
    } catch (err) {
      setError(describeError(err));
    }
  }, [path]);
  useEffect(() => {
    if (epoch > 0) void reload();
  }, [epoch, reload]);
  return { items, set, error, reload };
}
