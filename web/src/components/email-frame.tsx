import { useLayoutEffect, useMemo, useRef, useState } from 'react';
import { emailDocument } from './email-document.js';

const MIN_HEIGHT = 40;
/** Beyond this the frame scrolls inside: a 50-screen newsletter should not push the reply box away. */
const MAX_HEIGHT = 6000;
/** Without access to the frame's document (see below) the height cannot be measured. */
const FALLBACK_HEIGHT = 480;
const SCROLLBAR = 17;
const OPENABLE = new Set(['http:', 'https:', 'mailto:', 'tel:']);

/**
 * A message's sanitized HTML in a sandboxed frame.
 *
 * `sandbox="allow-same-origin"` and nothing else: no `allow-scripts`, so nothing in the email
 * can ever run, whatever slipped past the sanitizer; no forms, popups, top navigation, modals
 * or downloads. `allow-same-origin` is what lets the frame send our session cookie (SameSite=Lax
 * is not sent from an opaque-origin sandbox, so `cid:` images and the image proxy would answer
 * 401) and lets this component measure the content for its height. Without `allow-scripts` the
 * same origin gives the email nothing: it has no script to use it with (the pairing to avoid is
 * allow-scripts + allow-same-origin, which can remove its own sandbox). The frame's CSP (see
 * email-document.ts), on top of the page's own CSP that srcdoc frames inherit, allows images
 * only from our attachments and, after "Show images", our image proxy.
 *
 * Link clicks are caught here and opened in a new tab without opener or referrer, for web, mail
 * and phone links only: left alone, the sandbox would block `target=_blank` (no allow-popups)
 * and load any other link inside the frame.
 */
export function EmailFrame({ html, images, title }: { html: string; images: boolean; title: string }) {
  const frame = useRef<HTMLIFrameElement>(null);
  const [height, setHeight] = useState<number | null>(null);
  const srcDoc = useMemo(() => emailDocument(html, { origin: location.origin, images }), [html, images]);

  // A layout effect: the listener must be in place before the srcdoc document can finish loading.
  useLayoutEffect(() => {
    const el = frame.current;
    if (!el) return;
    let observer: ResizeObserver | undefined;
    let doc: Document | null = null;

    const measure = () => {
      const root = doc?.documentElement;
      if (!root) return;
      // A wide newsletter scrolls sideways; leave room for that scrollbar too.
      const sideways = root.scrollWidth > root.clientWidth ? SCROLLBAR : 0;
      const h = Math.max(root.getBoundingClientRect().height, doc!.body?.scrollHeight ?? 0) + sideways + 1;
      setHeight(Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, Math.ceil(h))));
    };
    const onClick = (e: MouseEvent) => {
      // The target lives in the frame's realm: `instanceof Element` would be false.
      const link = (e.target as Element | null)?.closest?.('a[href], area[href]');
      if (!link) return;
      e.preventDefault();
      let url: URL;
      try {
        url = new URL(link.getAttribute('href') ?? '', location.href);
      } catch {
        return;
      }
      if (OPENABLE.has(url.protocol)) window.open(url.href, '_blank', 'noopener,noreferrer');
    };
    const attach = () => {
      observer?.disconnect();
      doc = el.contentDocument;
      if (!doc) {
        setHeight(FALLBACK_HEIGHT);
        return;
      }
      measure();
      doc.addEventListener('click', onClick);
      // Images (inline or proxied) change the height after load.
      doc.addEventListener('load', measure, true);
      observer = new ResizeObserver(measure);
      observer.observe(doc.documentElement);
    };
    el.addEventListener('load', attach);
    if (el.contentDocument?.readyState === 'complete' && el.contentDocument.URL === 'about:srcdoc') attach();
    return () => {
      el.removeEventListener('load', attach);
      observer?.disconnect();
      doc?.removeEventListener('click', onClick);
      doc?.removeEventListener('load', measure, true);
    };
  }, [srcDoc]);

  return (
    <iframe
      ref={frame}
      className="email-frame"
      title={title}
      sandbox="allow-same-origin"
      srcDoc={srcDoc}
      referrerPolicy="no-referrer"
      style={{ height: height ?? MIN_HEIGHT }}
    />
  );
}
