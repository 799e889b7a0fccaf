/** `mailroom start`: the server, until Ctrl-C or SIGTERM, which stop it cleanly. */
import path from 'node:path';
import { settingsFromEnv } from '../config/env.js';
import { packageInfo } from '../package-info.js';
import { Runtime } from '../runtime.js';
import type { Output } from './output.js';

export async function startCommand(env: NodeJS.ProcessEnv, o: Output): Promise<void> {
  const settings = settingsFromEnv(env);
  const runtime = await Runtime.start({
    settings,
    env,
    print: o.out,
    webRoot: path.join(packageInfo().root, 'dist', 'web'),
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    o.out(`Stopping (${signal})…`);
    const force = setTimeout(() => {
      o.err('Did not stop within 15 s; exiting anyway.');
      process.exit(1);
    }, 15_000);
    force.unref();
    runtime.close().then(
      () => {
        o.out('Stopped.');
        process.exit(0);
      },
      (err: unknown) => {
        o.err(`Error while stopping: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
