import { useEffect, useState } from 'react';
import { api } from '../api/client.js';
import type { AgentStateEvent, Me } from '../api/types.js';
import { ConversationList } from '../components/conversation-list.js';
import { OfferPanel } from '../components/offer-panel.js';
import { StateToggle } from '../components/state-toggle.js';
import { showInvisible } from '../components/text-format.js';
import { EventsContext, useEvent, useEventStream } from '../hooks/use-events.js';
import { useMyConversations } from '../hooks/use-my-conversations.js';
import { useOffers } from '../hooks/use-offers.js';
import { followLink, navigate, useRoute } from '../hooks/use-route.js';
import { AdminView } from './admin.js';
import { ConversationView } from './conversation-view.js';
import { SupervisorView } from './supervisor.js';

/** The signed-in frame: the stream of live events for everything below it. */
export function Workspace(props: { me: Me; setMe: (me: Me) => void; onSignedOut: () => void }) {
  const events = useEventStream(true);
  return (
    <EventsContext.Provider value={events}>
      <WorkspaceFrame {...props} connected={events.connected} />
    </EventsContext.Provider>
  );
}

const isSupervisor = (me: Me) => me.roles.includes('supervisor') || me.roles.includes('admin');

/** Who I am, my state, the live indicator; incoming offers; my conversations; the open screen. */
function WorkspaceFrame({ me, setMe, onSignedOut, connected }: { me: Me; setMe: (me: Me) => void; onSignedOut: () => void; connected: boolean }) {
  const route = useRoute();
  const openId = route.name === 'conversation' ? route.id : null;
  const offers = useOffers((id) => navigate(`/conversations/${id}`));
  const mine = useMyConversations(me.id, openId);
  const [flash, setFlash] = useState<string | null>(null);
  const [announce, setAnnounce] = useState('');

  // My state may change elsewhere (another tab, a supervisor, "not responding" after missed offers).
  useEvent<AgentStateEvent>('agent.state', (e) => {
    if (e.login === me.login) setMe({ ...me, state: e.state, reason: e.reason, since: e.since });
  });

  // A background tab shows pending offers in its title.
  useEffect(() => {
    document.title = offers.offers.length > 0 ? `(${offers.offers.length}) Offer — Mailroom` : 'Mailroom';
  }, [offers.offers.length]);

  // Screen readers hear about a new offer at once, wherever the focus is.
  const newest = offers.offers.at(-1);
  useEffect(() => {
    if (newest) setAnnounce(`New offer: ${showInvisible(newest.subject) || 'no subject'}, from ${showInvisible(newest.customer) || 'unknown'}.`);
  }, [newest]);

  const signOut = async () => {
    await api('DELETE', '/session').catch(() => undefined);
    onSignedOut();
  };

  const nav = [
    { path: '/', label: 'Workspace', on: route.name === 'home' || route.name === 'conversation', show: true },
    { path: '/supervisor', label: 'Supervisor', on: route.name === 'supervisor', show: isSupervisor(me) },
    { path: '/admin', label: 'Mailboxes', on: route.name === 'admin', show: me.roles.includes('admin') },
  ].filter((n) => n.show);

  return (
    <div className="workspace">
      <header className="top">
        <strong className="brand">Mailroom</strong>
        {nav.length > 1 && (
          <nav className="top-nav" aria-label="Views">
            {nav.map((n) => (
              <a key={n.path} href={n.path} onClick={(e) => followLink(e, n.path)} aria-current={n.on ? 'page' : undefined}>
                {n.label}
              </a>
            ))}
          </nav>
        )}
        <span className={`live ${connected ? 'on' : 'off'}`} title={connected ? 'Live updates on' : 'Reconnecting…'}>
          {connected ? 'live' : 'reconnecting…'}
        </span>
        <span className="spacer" />
        <StateToggle me={me} onChange={setMe} />
        <span className="who" data-testid="who">
          {me.name} ({me.roles.join(', ')})
        </span>
        <button onClick={signOut}>Sign out</button>
      </header>
      <OfferPanel offers={offers.offers} notes={offers.notes} busy={offers.busy} errors={offers.errors} onAccept={offers.accept} onDecline={offers.decline} />
      <div className="layout">
        <ConversationList active={mine.active} handled={mine.handled} loaded={mine.loaded} error={mine.error} unread={mine.unread} openId={openId} />
        <main className="work">
          {flash && (
            <p className="flash" role="status">
              {flash}{' '}
              <button className="link" onClick={() => setFlash(null)}>
                Dismiss
              </button>
            </p>
          )}
          {route.name === 'conversation' && (
            <ConversationView
              key={route.id}
              id={route.id}
              me={me}
              onLeft={(note) => {
                setFlash(note);
                navigate('/');
              }}
            />
          )}
          {route.name === 'home' && <Home me={me} openCount={mine.active.length} />}
          {route.name === 'supervisor' && (isSupervisor(me) ? <SupervisorView /> : <p className="empty">The supervisor view is for supervisors.</p>)}
          {route.name === 'admin' && (me.roles.includes('admin') ? <AdminView /> : <p className="empty">The mailbox view is for admins.</p>)}
        </main>
      </div>
      <div className="sr-only" aria-live="assertive">
        {announce}
      </div>
    </div>
  );
}

function Home({ me, openCount }: { me: Me; openCount: number }) {
  const text =
    me.state === 'available'
      ? 'You are available: new conversations are offered to you here as they arrive.'
      : me.state === 'paused'
        ? `You are paused${me.reason ? ` (${me.reason})` : ''}: no new conversations are offered. Set yourself available to receive work.`
        : 'You are offline. Set yourself available to receive work.';
  return (
    <div className="home">
      <p className="empty">{text}</p>
      {openCount > 0 && <p className="empty">Pick one of your {openCount} open conversations on the left.</p>}
    </div>
  );
}
