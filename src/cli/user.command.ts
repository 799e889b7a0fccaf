/** `mailroom user add LOGIN --role ROLE [--password-stdin]` and `mailroom token create --user LOGIN`. */
import { settingsFromEnv } from '../config/env.js';
import { invalid } from '../domain/errors.js';
import type { Role } from '../domain/types.js';
import { openAdminClient } from './admin-client.js';
import { readStdin } from './config.command.js';
import type { Output } from './output.js';

const ROLES: Role[] = ['agent', 'supervisor', 'admin'];

export async function userAddCommand(
  env: NodeJS.ProcessEnv,
  o: Output,
  login: string,
  opts: { role: string[]; passwordStdin?: boolean; name?: string; email?: string },
): Promise<void> {
  const roles = opts.role.flatMap((r) => r.split(',')).map((r) => r.trim());
  const bad = roles.filter((r) => !ROLES.includes(r as Role));
  if (bad.length) throw invalid(`Unknown role ${bad.join(', ')}`, 'Use --role agent, supervisor or admin (repeat --role for several).');
  let password: string | undefined;
  if (opts.passwordStdin) {
    password = (await readStdin()).split(/\r?\n/)[0];
    if (!password) throw invalid('No password on standard input', 'Pipe the password in, e.g. echo "$PW" | mailroom user add LOGIN --role agent --password-stdin');
  }
  const client = await openAdminClient(settingsFromEnv(env), env);
  try {
    const r = await client.addUser({ login, roles: roles as Role[], ...(password ? { password } : {}), ...(opts.name ? { name: opts.name } : {}), ...(opts.email ? { email: opts.email } : {}) });
    o.out(`Created user "${r.login}" (${roles.join(', ')}).`);
    if (r.password) o.out(`Password (shown once): ${r.password}`);
  } finally {
    await client.close();
  }
}

export async function tokenCreateCommand(env: NodeJS.ProcessEnv, o: Output, opts: { user: string; name?: string }): Promise<void> {
  const client = await openAdminClient(settingsFromEnv(env), env);
  try {
    const r = await client.createToken(opts.user, opts.name ?? `cli ${new Date().toISOString().slice(0, 10)}`);
    o.err(`API token for "${opts.user}" (shown once; use it as Authorization: Bearer TOKEN):`);
    o.out(r.token);
  } finally {
    await client.close();
  }
}
