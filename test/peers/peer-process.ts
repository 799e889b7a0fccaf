/**
 * Child processes and temp folders of test peers, cleaned up even when a test file crashes:
 * `stop()` is the normal path; an `exit` hook kills what is left (SIGKILL, synchronously) and
 * removes the folders, so a failed run leaves no Dovecot or Dante behind on the machine.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';

const children = new Set<ChildProcess>();
const folders = new Set<string>();
let hooked = false;

/** Signals the child's whole process group (it leads one: spawned `detached`). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const child of children) killGroup(child, 'SIGKILL');
    for (const dir of folders) rmSync(dir, { recursive: true, force: true });
  });
}

/** Registers a temp folder to remove at exit if `removeFolder` was not called. */
export function trackFolder(dir: string): void {
  hookExit();
  folders.add(dir);
}

/** Removes a tracked temp folder now. */
export async function removeFolder(dir: string): Promise<void> {
  folders.delete(dir);
  await rm(dir, { recursive: true, force: true });
}

export interface PeerProcess {
  child: ChildProcess;
  /** Everything the process wrote on stdout and stderr (for error messages). */
  output(): string;
  /** A reason when the process has exited, else undefined. */
  exited(): string | undefined;
  /**
   * SIGTERM, then after `graceMs` SIGKILL to the whole process group (Dovecot's master can wait
   * many seconds for an idle login process); resolves when the process has exited.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns a long-running peer process in a process group of its own (so its children, e.g.
 * Dovecot's login and mail processes, can be killed with it), tracked for cleanup.
 */
export function spawnPeer(command: string, args: string[], opts: SpawnOptions = {}): PeerProcess {
  hookExit();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...opts });
  children.add(child);
  let out = '';
  let exitReason: string | undefined;
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  child.on('error', (err) => (exitReason = `${command} could not start: ${err.message}`));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      exitReason ??= `${command} exited (${signal ?? `code ${code}`})`;
      resolve();
    });
  });
  return {
    child,
    output: () => out,
    exited: () => exitReason,
    async stop(graceMs = 1_000) {
      if (exitReason === undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      // Children that outlive their parent (a login process still finishing) go too.
      killGroup(child, 'SIGKILL');
    },
  };
}
