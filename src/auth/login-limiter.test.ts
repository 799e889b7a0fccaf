import { describe, expect, it } from 'vitest';
import { LoginLimiter } from './login-limiter.js';

describe('LoginLimiter', () => {
  it('blocks a login after N failures from one address, only for that login, until the window passes', () => {
    let now = 0;
    const l = new LoginLimiter({ windowMs: 60_000, perLogin: 3, perAddress: 100 }, () => now);
    for (let i = 0; i < 3; i++) {
      l.check('1.1.1.1', 'alice');
      l.fail('1.1.1.1', 'alice');
    }
    expect(() => l.check('1.1.1.1', 'Alice')).toThrowError(expect.objectContaining({ code: 'RATE_LIMITED', status: 429 }));
    expect(() => l.check('1.1.1.1', 'bob')).not.toThrow();
    expect(() => l.check('2.2.2.2', 'alice')).not.toThrow();
    now = 60_001;
    expect(() => l.check('1.1.1.1', 'alice')).not.toThrow();
  });

  it('limits spraying many logins from one address, and success resets the login', () => {
    const l = new LoginLimiter({ windowMs: 60_000, perLogin: 3, perAddress: 5 }, () => 0);
    for (let i = 0; i < 5; i++) l.fail('1.1.1.1', `user${i}`);
    expect(() => l.check('1.1.1.1', 'someone')).toThrowError(expect.objectContaining({ code: 'RATE_LIMITED' }));
    const m = new LoginLimiter({ windowMs: 60_000, perLogin: 2, perAddress: 50 }, () => 0);
    m.fail('a', 'x');
    m.succeed('a', 'x');
    m.fail('a', 'x');
    expect(() => m.check('a', 'x')).not.toThrow();
  });
});
