import { describe, expect, it } from 'vitest';
import { authorize, can } from './policy.js';

describe('policy', () => {
  it('admin ⊃ supervisor ⊃ agent', () => {
    expect(can({ roles: ['agent'] }, 'me.state')).toBe(true);
    expect(can({ roles: ['agent'] }, 'queues.read')).toBe(false);
    expect(can({ roles: ['supervisor'] }, 'queues.read')).toBe(true);
    expect(can({ roles: ['supervisor'] }, 'me.state')).toBe(true);
    expect(can({ roles: ['supervisor'] }, 'config.apply')).toBe(false);
    expect(can({ roles: ['admin'] }, 'config.apply')).toBe(true);
    expect(can({ roles: ['admin'] }, 'agents.read')).toBe(true);
  });

  it('throws FORBIDDEN with a hint', () => {
    expect(() => authorize({ roles: ['agent'] }, 'config.apply')).toThrowError(expect.objectContaining({ code: 'FORBIDDEN', status: 403, hint: expect.any(String) }));
  });
});
