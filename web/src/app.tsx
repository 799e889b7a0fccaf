import { useEffect, useState } from 'react';
import { api, setCsrfToken } from './api/client.js';
import type { Me } from './api/types.js';
import { SignIn } from './scenes/sign-in.js';
import { Workspace } from './scenes/workspace.js';

/** Signed in (the session cookie is valid) → the workspace; otherwise the sign-in form. */
export function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  useEffect(() => {
    api<Me>('GET', '/me')
      .then((m) => {
        setCsrfToken(m.csrfToken);
        setMe(m);
      })
      .catch(() => setMe(null));
  }, []);

  if (me === undefined) return <p className="loading">Loading…</p>;
  if (me === null) return <SignIn onSignedIn={setMe} />;
  return <Workspace me={me} setMe={setMe} onSignedOut={() => (setCsrfToken(undefined), setMe(null))} />;
}
