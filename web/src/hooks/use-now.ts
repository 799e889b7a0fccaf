/** The server's "now" (see serverNow), re-rendering every `everyMs`: for countdowns and ages. */
import { useEffect, useState } from 'react';
import { serverNow } from '../api/client.js';

export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(serverNow);
  useEffect(() => {
    const t = window.setInterval(() => setNow(serverNow()), everyMs);
    return () => window.clearInterval(t);
  }, [everyMs]);
  return now;
}
