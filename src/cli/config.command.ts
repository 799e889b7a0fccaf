/** `mailroom config apply FILE [--prune] [--dry-run]` and `mailroom config export`. */
import { readFile } from 'node:fs/promises';
import { settingsFromEnv } from '../config/env.js';
import { AppError, errorMessage } from '../domain/errors.js';
import { formatChanges } from '../services/config.service.js';
import { openAdminClient } from './admin-client.js';
import type { Output } from './output.js';

export async function configApplyCommand(env: NodeJS.ProcessEnv, o: Output, file: string, opts: { prune?: boolean; dryRun?: boolean }): Promise<void> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    throw new AppError('CONFIG_FILE_UNREADABLE', `Cannot read ${file}: ${errorMessage(err)}`, { hint: 'Check the path (use - to read the file from standard input).' });
  }
  const client = await openAdminClient(settingsFromEnv(env), env);
  try {
    o.err(`${opts.dryRun ? 'Checking' : 'Applying'} ${file} ${client.via === 'api' ? 'through the running server' : 'to the database'}…`);
    const result = await client.applyConfig(text, opts);
    o.out(formatChanges(result));
    const [c, u, d] = [result.created.length, result.updated.length, result.deleted.length];
    o.out(opts.dryRun ? `Dry run: ${c} to create, ${u} to update, ${d} to delete. Nothing was applied.` : `Applied: ${c} created, ${u} updated, ${d} deleted.`);
  } finally {
    await client.close();
  }
}

export async function configExportCommand(env: NodeJS.ProcessEnv, o: Output): Promise<void> {
  const client = await openAdminClient(settingsFromEnv(env), env);
  try {
    process.stdout.write(await client.exportConfig());
  } finally {
    await client.close();
  }
  void o;
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
