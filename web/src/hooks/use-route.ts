/**
 * Client-side routes on real paths (the server answers index.html for them, so a reload or a
 * shared link lands on the same screen): `/`, `/conversations/:id`, `/supervisor`, `/admin`.
 * Small enough that a router library would cost more than it gives.
 */
import { useSyncExternalStore } from 'react';

export type Route = { name: 'home' } | { name: 'conversation'; id: number } | { name: 'supervisor' } | { name: 'admin' };

export function parseRoute(pathname: string): Route {
  const conv = /^\/conversations\/(\d+)\/?$/.exec(pathname);
  if (conv) return { name: 'conversation', id: Number(conv[1]) };
  if (/^\/supervisor\/?$/.test(pathname)) return { name: 'supervisor' };
  if (/^\/admin\/?$/.test(pathname)) return { name: 'admin' };
  return { name: 'home' };
}

const CHANGE = 'mailroom:navigate';

/** Goes to `path` without a page load; `replace` keeps the back button from returning to it. */
export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  if (path === location.pathname) return;
  if (opts.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new Event(CHANGE));
}

function subscribe(fn: () => void): () => void {
  window.addEventListener('popstate', fn);
  window.addEventListener(CHANGE, fn);
  return () => {
    window.removeEventListener('popstate', fn);
    window.removeEventListener(CHANGE, fn);
  };
}

/** The current path; re-renders on navigation and on back/forward. */
export function usePathname(): string {
  return useSyncExternalStore(subscribe, () => location.pathname);
}

export function useRoute(): Route {
  return parseRoute(usePathname());
}

/** For `onClick` of an `<a href>`: a plain click navigates in the app; modified clicks (new tab) are left to the browser. */
export function followLink(e: { preventDefault(): void; button: number; metaKey: boolean; ctrlKey: boolean; shiftKey: boolean; altKey: boolean }, path: string): void {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(path);
}
