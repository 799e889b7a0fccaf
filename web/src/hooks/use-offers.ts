/**
 * The offers made to me: GET /me/offers at start and after every reconnect (events may have been
 * missed), then live by `offer.created`, `offer.expired` and `offer.cancelled`. An offer that
 * goes away leaves a short note, so the agent knows why it vanished.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, ApiError, describeError } from '../api/client.js';
import type { Offer, OfferClosedEvent } from '../api/types.js';
import { useEvent, useEvents } from './use-events.js';

export interface OfferNote {
  key: number;
  text: string;
}

const NOTE_MS = 8000;


export function useOffers(onAccepted: (conversationId: number) => void) {
  const { epoch } = useEvents();
  const [offers, setOffers] = useState<Offer[]>([]);
  const [notes, setNotes] = useState<OfferNote[]>([]);
  const [busy, setBusy] = useState<number | null>(null);
  const [errors, setErrors] = useState<Record<number, { message: string; hint?: string }>>({});
  const noteKey = useRef(0);
  const arrived = useRef(new Set<number>());
  const current = useRef(offers);
  current.current = offers;

  const note = useCallback((text: string) => {
    const key = ++noteKey.current;
    setNotes((n) => [...n, { key, text }]);
    window.setTimeout(() => setNotes((n) => n.filter((x) => x.key !== key)), NOTE_MS);
  }, []);

  const drop = useCallback(
    (id: number, why: (o: Offer) => string) => {
      const gone = current.current.find((o) => o.id === id);
      if (gone) note(why(gone));
      setOffers((list) => list.filter((o) => o.id !== id));
    },
    [note],
  );

  useEffect(() => {
    if (epoch === 0) return;
    let cancelled = false;
    arrived.current.clear();
    api<Offer[]>('GET', '/me/offers')
      .then((full) => {
        // Offers that arrived by event while the list was on its way are kept.
        if (!cancelled) setOffers((list) => [...full, ...list.filter((o) => arrived.current.has(o.id) && !full.some((f) => f.id === o.id))]);
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
    // Only on (re)connection: the events keep the list current in between.
  }, [epoch]);

  useEvent<Offer>('offer.created', (o) => {
    arrived.current.add(o.id);
    setOffers((list) => (list.some((x) => x.id === o.id) ? list : [...list, o]));
  });
  useEvent<OfferClosedEvent>('offer.expired', (e) => drop(e.id, (o) => `The offer “${o.subject ?? 'no subject'}” expired and went to another agent.`));
  useEvent<OfferClosedEvent>('offer.cancelled', (e) =>
    drop(e.id, (o) => `The offer “${o.subject ?? 'no subject'}” was withdrawn${e.reason ? ` (${e.reason === 'taken' ? 'another agent took it' : e.reason})` : ''}.`),
  );

  const respond = async (offer: Offer, action: 'accept' | 'decline') => {
    setBusy(offer.id);
    setErrors(({ [offer.id]: _, ...rest }) => rest);
    try {
      const r = await api<{ conversationId: number } | undefined>('POST', `/offers/${offer.id}/${action}`);
      setOffers((list) => list.filter((o) => o.id !== offer.id));
      if (action === 'accept') onAccepted(r?.conversationId ?? offer.conversationId);
    } catch (err) {
      // The offer is gone on the server (expired, taken): say so instead of leaving a dead card.
      if (err instanceof ApiError && (err.code === 'OFFER_CLOSED' || err.status === 404)) drop(offer.id, (o) => `The offer “${o.subject ?? 'no subject'}” is no longer open: ${err.message}`);
      else setErrors((e) => ({ ...e, [offer.id]: describeError(err) }));
    } finally {
      setBusy(null);
    }
  };

  return {
    offers,
    notes,
    busy,
    errors,
    accept: (o: Offer) => respond(o, 'accept'),
    decline: (o: Offer) => respond(o, 'decline'),
  };
}
