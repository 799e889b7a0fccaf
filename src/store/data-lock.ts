/**
 * One process per embedded data folder (PGlite is single-process). The lock file holds the
 * owner's PID; a lock whose process is gone is stale and taken over.
 */
import { mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../domain/errors.js';

export interface LockInfo {
  pid: number;
  startedAt: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockPath(dataDir: string): string {
  return path.join(dataDir, 'mailroom.lock');
}

/** Reads the lock; `null` when there is none or its process has ended. */
export async function readLiveLock(dataDir: string): Promise<LockInfo | null> {
  try {
    const info = JSON.parse(await readFile(lockPath(dataDir), 'utf8')) as LockInfo;
    return typeof info.pid === 'number' && alive(info.pid) && info.pid !== process.pid ? info : null;
  } catch {
    return null;
  }
}

export class DataLock {
  private constructor(private readonly file: string) {}

  static async acquire(dataDir: string): Promise<DataLock> {
    await mkdir(dataDir, { recursive: true });
    const file = lockPath(dataDir);
    const info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const handle = await open(file, 'wx', 0o600);
        await handle.writeFile(JSON.stringify(info));
        await handle.close();
        return new DataLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readLiveLock(dataDir);
      if (holder) {
        throw new AppError('DATA_FOLDER_IN_USE', `The data folder ${dataDir} is in use by process ${holder.pid} (since ${holder.startedAt})`, {
          status: 409,
          hint: `Stop that process first (kill ${holder.pid}), or give this one another folder with MAILROOM_DATA. Admin commands reach a running server through its API.`,
        });
      }
      // Stale: its process is gone. Move it aside atomically so two starters cannot both take it.
      const aside = `${file}.stale-${process.pid}`;
      await rename(file, aside).catch(() => undefined);
      await unlink(aside).catch(() => undefined);
    }
    throw new AppError('DATA_FOLDER_LOCKED', `Could not lock the data folder ${dataDir}`, {
      status: 409,
      hint: `Remove ${file} if no Mailroom process is running, then start again.`,
    });
  }

  /** Adds fields (the server's URL, for the CLI) to the lock file. */
  async update(extra: Record<string, unknown>): Promise<void> {
    const current = JSON.parse(await readFile(this.file, 'utf8')) as Record<string, unknown>;
    await writeFile(this.file, JSON.stringify({ ...current, ...extra }), { mode: 0o600 });
  }

  async release(): Promise<void> {
    await unlink(this.file).catch(() => undefined);
  }
}
