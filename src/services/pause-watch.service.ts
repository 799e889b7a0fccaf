/**
 * Pause reasons with a maximum duration (API.md `pause_reasons[].max_minutes`): an agent paused
 * longer than that gets a warning, and so do the supervisors, once per pause.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../domain/errors.js';
import type { EventBus } from '../domain/events.js';
import type { Store } from '../store/store.js';

export class PauseWatchService {
  private timer: NodeJS.Timeout | undefined;
  /** `userId:stateSince` of pauses already warned about. */
  private readonly warned = new Set<string>();

  constructor(private readonly deps: { store: Store; bus: EventBus; logger: Logger; now?: () => number; intervalMs?: number }) {}

  start(): void {
    this.timer = setInterval(() => void this.check().catch((err: unknown) => this.deps.logger.warn({ err: errorMessage(err) }, 'pause check failed')), this.deps.intervalMs ?? 60_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Warns about every pause past its reason's limit that was not warned about yet. */
  async check(): Promise<number> {
    const now = this.deps.now?.() ?? Date.now();
    const limits = new Map((await this.deps.store.repos.config.listPauseReasons()).filter((r) => r.max_minutes).map((r) => [r.code, r.max_minutes!]));
    let sent = 0;
    for (const u of await this.deps.store.repos.users.listAll()) {
      if (u.state !== 'paused' || !u.state_reason) continue;
      const max = limits.get(u.state_reason);
      const key = `${u.id}:${u.state_since.getTime()}`;
      if (!max || now - u.state_since.getTime() < max * 60_000 || this.warned.has(key)) continue;
      this.warned.add(key);
      sent++;
      this.deps.bus.publish(
        'agent.pause.overdue',
        { id: u.id, login: u.login, reason: u.state_reason, since: u.state_since.toISOString(), maxMinutes: max, minutes: Math.floor((now - u.state_since.getTime()) / 60_000) },
        { kind: 'some', userIds: [u.id], roles: ['supervisor'] },
      );
    }
    return sent;
  }
}

/** Whether a pause has run past its reason's maximum (for the agents list). */
export function pauseOverdue(state: string, reason: string | null, since: Date, limits: Map<string, number>, now = Date.now()): { overdue: boolean; maxMinutes: number | null } {
  const max = reason ? (limits.get(reason) ?? null) : null;
  return { overdue: state === 'paused' && max !== null && now - since.getTime() >= max * 60_000, maxMinutes: state === 'paused' ? max : null };
}
