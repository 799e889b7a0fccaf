/** What leaves the server about users: never hashes, fingerprints or tokens. */
import type { UserRecord } from '../../store/user.repository.js';

export function presentMe(u: UserRecord) {
  return {
    id: u.id,
    login: u.login,
    name: u.name,
    email: u.email,
    roles: u.roles,
    state: u.state,
    reason: u.state_reason,
    since: u.state_since.toISOString(),
    skills: u.skills,
    languages: u.languages,
    capacity: u.capacity,
  };
}
