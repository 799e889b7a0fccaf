import { useEffect } from 'react';
import { api } from '../api/client.js';
import type { Me } from '../api/types.js';
import { StateToggle } from '../components/state-toggle.js';
import { useEventStream } from '../hooks/use-events.js';

/** The signed-in frame: who I am, my state, the live indicator, and the work area. */
export function Workspace({ me, setMe, onSignedOut }: { me: Me; setMe: (me: Me) => void; onSignedOut: () => void }) {
  const events = useEventStream(true);

  useEffect(
    () =>
      events.subscribe('agent.state', (data: { login: string; state: Me['state']; reason: string | null; since: string }) => {
        if (data.login === me.login) setMe({ ...me, state: data.state, reason: data.reason, since: data.since });
      }),
    [events, me, setMe],
  );

  const signOut = async () => {
    await api('DELETE', '/session').catch(() => undefined);
    onSignedOut();
  };

  return (
    <div className="workspace">
      <header>
        <strong>Mailroom</strong>
        <span className={`live ${events.connected ? 'on' : 'off'}`} title={events.connected ? 'Live updates on' : 'Reconnecting…'}>
          {events.connected ? 'live' : 'reconnecting…'}
        </span>
        <span className="spacer" />
        <StateToggle me={me} onChange={setMe} />
        <span className="who" data-testid="who">
          {me.name} ({me.roles.join(', ')})
        </span>
        <button onClick={signOut}>Sign out</button>
      </header>
      <main className="work">
        <p className="empty">No conversation offered yet. Set yourself available to receive work.</p>
      </main>
    </div>
  );
}
