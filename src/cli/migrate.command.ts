/** `mailroom migrate`: only the database migrations, then exit. */
import pino from 'pino';
import { settingsFromEnv } from '../config/env.js';
import { migrate } from '../store/migrate.js';
import { openDatabase } from '../store/open.js';
import type { Output } from './output.js';

export async function migrateCommand(env: NodeJS.ProcessEnv, o: Output): Promise<void> {
  const settings = settingsFromEnv(env);
  const log = pino({ level: 'warn' }, pino.destination(2));
  const opened = await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir, onPoolError: (err) => log.warn(err.message) });
  try {
    const result = await migrate(opened.database, { onProgress: o.out });
    o.out(result.applied.length ? `Applied ${result.applied.length} migration(s); now at ${result.current}.` : `Already up to date (${result.current}).`);
  } finally {
    await opened.close();
  }
}
