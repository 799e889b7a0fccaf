/**
 * A wait that other code can cut short: a long-running loop sleeps until a timer, a kick (new
 * mail), or a stop. Kicks that come while the loop is busy are remembered, not lost.
 */
export type WakeReason = 'timer' | 'kick' | 'stop';

export class Wakeup {
  private pending: WakeReason | null = null;
  private resolve: ((r: WakeReason) => void) | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  wait(ms: number): Promise<WakeReason> {
    if (this.stopped) return Promise.resolve('stop');
    if (this.pending) {
      const r = this.pending;
      this.pending = null;
      return Promise.resolve(r);
    }
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(() => this.fire('timer'), ms);
    });
  }

  kick(): void {
    this.fire('kick');
  }

  stop(): void {
    this.stopped = true;
    this.fire('stop');
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private fire(reason: WakeReason): void {
    if (!this.resolve) {
      if (reason === 'stop' || this.pending === null) this.pending = reason;
      return;
    }
    clearTimeout(this.timer);
    const r = this.resolve;
    this.resolve = null;
    r(reason);
  }
}
