import { useEffect, useRef } from 'react';
import type { Offer } from '../api/types.js';
import type { OfferNote } from '../hooks/use-offers.js';
import { useNow } from '../hooks/use-now.js';
import { formatClock, showInvisible } from './text-format.js';
import { ErrorNote } from './error-note.js';

interface Props {
  offers: Offer[];
  notes: OfferNote[];
  busy: number | null;
  errors: Record<number, { message: string; hint?: string }>;
  onAccept: (o: Offer) => void;
  onDecline: (o: Offer) => void;
}

/**
 * Incoming offers, above everything else: each with what it is, who it is from, the queue and
 * the time left to take it. Short notes say why an offer went away.
 */
export function OfferPanel({ offers, notes, busy, errors, onAccept, onDecline }: Props) {
  if (offers.length === 0 && notes.length === 0) return null;
  return (
    <section className="offer-panel" aria-label="Incoming offers">
      {offers.length > 0 && (
        <h2 className="offer-title">
          {offers.length === 1 ? 'New conversation offered to you' : `${offers.length} conversations offered to you`}
        </h2>
      )}
      <ul className="offer-list">
        {offers.map((o, i) => (
          <OfferCard key={o.id} offer={o} first={i === 0} busy={busy === o.id} error={errors[o.id]} onAccept={onAccept} onDecline={onDecline} />
        ))}
      </ul>
      {notes.map((n) => (
        <p key={n.key} className="offer-note" role="status">
          {n.text}
        </p>
      ))}
    </section>
  );
}

interface CardProps {
  offer: Offer;
  first: boolean;
  busy: boolean;
  error: { message: string; hint?: string } | undefined;
  onAccept: (o: Offer) => void;
  onDecline: (o: Offer) => void;
}

function OfferCard({ offer, first, busy, error, onAccept, onDecline }: CardProps) {
  const now = useNow(500);
  const accept = useRef<HTMLButtonElement>(null);
  const left = Date.parse(offer.expiresAt) - now;
  const subject = showInvisible(offer.subject) || '(no subject)';

  // Keyboard users land on Accept when an offer arrives, unless they are typing somewhere:
  // taking the focus out of a half-written reply would be worse than a missed offer.
  useEffect(() => {
    const active = document.activeElement;
    if (first && (!active || active === document.body)) accept.current?.focus();
  }, [first]);

  return (
    <li className={`offer-card${left < 15_000 ? ' urgent' : ''}`} aria-label={`Offer: ${subject}`} data-testid="offer">
      <div className="offer-main">
        <strong className="offer-subject">
          <bdi>{subject}</bdi>
        </strong>
        <span className="offer-meta">
          <bdi>{showInvisible(offer.customer) || 'unknown sender'}</bdi>
          {offer.queue && <> · queue {offer.queue}</>}
        </span>
      </div>
      {/* role=timer is not announced every second (its live region is off by default). */}
      <span className="offer-countdown" role="timer" aria-label={`Time left to accept: ${formatClock(left)}`}>
        {left > 0 ? formatClock(left) : 'expiring…'}
      </span>
      <div className="offer-actions">
        <button ref={accept} className="primary" disabled={busy} onClick={() => onAccept(offer)}>
          Accept
        </button>
        <button disabled={busy} onClick={() => onDecline(offer)}>
          Decline
        </button>
      </div>
      <ErrorNote error={error} />
    </li>
  );
}
