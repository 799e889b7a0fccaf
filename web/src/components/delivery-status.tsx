import type { Message } from '../api/types.js';

const LABEL = { queued: 'Sending…', sent: 'Sent', failed: 'Not delivered' } as const;

/** Where one of our replies is: queued (retrying), sent, or failed with the server's reason. */
export function DeliveryStatus({ m }: { m: Message }) {
  if (m.direction !== 'outbound' || !m.delivery) return null;
  return (
    <span className={`delivery delivery-${m.delivery}`} role="status" data-testid="delivery">
      {LABEL[m.delivery]}
      {m.delivery === 'queued' && m.deliveryError && <span className="delivery-reason"> — retrying: {m.deliveryError}</span>}
      {m.delivery === 'failed' && <span className="delivery-reason"> — {m.deliveryError ?? 'the mail server refused it'}</span>}
    </span>
  );
}
