/**
 * Failed-login limiting (API.md: only failures count). Two windows: per client address and
 * login, and per client address alone, so guessing one account and spraying many accounts are
 * both slowed. In memory per node: a cluster multiplies the budget by its node count, which is
 * still far below what guessing needs.
 */
import { AppError } from '../domain/errors.js';

export interface LoginLimits {
  windowMs: number;
  perLogin: number;
  perAddress: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { windowMs: 15 * 60_000, perLogin: 10, perAddress: 100 };

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  private recent(key: string): number[] {
    const cutoff = this.now() - this.limits.windowMs;
    const list = (this.failures.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length === 0) this.failures.delete(key);
    else this.failures.set(key, list);
    return list;
  }

  /** Throws RATE_LIMITED (429) when either window is full. */
  check(address: string, login: string): void {
    const keys: [string, number][] = [
      [`l:${address}:${login.toLowerCase()}`, this.limits.perLogin],
      [`a:${address}`, this.limits.perAddress],
    ];
    for (const [key, max] of keys) {
      const list = this.recent(key);
      if (list.length >= max) {
        const retryS = Math.ceil((list[0]! + this.limits.windowMs - this.now()) / 1000);
        throw new AppError('RATE_LIMITED', 'Too many failed sign-in attempts', {
          status: 429,
          hint: `Wait ${retryS} s before trying again, or ask an administrator to reset the password.`,
        });
      }
    }
  }

  fail(address: string, login: string): void {
    for (const key of [`l:${address}:${login.toLowerCase()}`, `a:${address}`]) {
      const list = this.recent(key);
      list.push(this.now());
      this.failures.set(key, list);
    }
  }

  succeed(address: string, login: string): void {
    this.failures.delete(`l:${address}:${login.toLowerCase()}`);
  }
}
