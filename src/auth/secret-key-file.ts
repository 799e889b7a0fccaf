/**
 * Where the secret key comes from: `MAILROOM_SECRET_KEY`, or in embedded mode a key generated
 * once into `$MAILROOM_DATA/secret.key` (0600). With a database server several nodes must share
 * one key, so it must be given.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../domain/errors.js';
import { parseSecretKeys, type SecretKey } from './secret-box.js';

export interface LoadedKeys {
  keys: SecretKey[];
  source: 'env' | 'file';
  file?: string;
  generated: boolean;
}

export async function loadSecretKeys(opts: { secretKey: string | undefined; databaseUrl: string | undefined; dataDir: string }): Promise<LoadedKeys> {
  if (opts.secretKey) return { keys: parseSecretKeys(opts.secretKey), source: 'env', generated: false };
  if (opts.databaseUrl) {
    throw new AppError('SECRET_KEY_REQUIRED', 'MAILROOM_SECRET_KEY is required when DATABASE_URL is set', {
      hint: 'Every node must encrypt with the same key: set MAILROOM_SECRET_KEY to 32 random bytes in base64 ' +
        '(node -e "console.log(require(\'crypto\').randomBytes(32).toString(\'base64\'))") and keep a copy safe.',
    });
  }
  const file = path.join(opts.dataDir, 'secret.key');
  try {
    const text = (await readFile(file, 'utf8')).trim();
    const mode = (await stat(file)).mode & 0o777;
    if (mode & 0o077) await chmod(file, 0o600);
    return { keys: parseSecretKeys(text), source: 'file', file, generated: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32).toString('base64');
  await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return { keys: parseSecretKeys(key), source: 'file', file, generated: true };
}
