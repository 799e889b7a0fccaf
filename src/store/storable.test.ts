import { describe, expect, it } from 'vitest';
import { storable } from './storable.js';

describe('storable', () => {
  it('replaces NUL and lone surrogates in strings nested in arrays and plain objects', () => {
    const input = { subject: 'a\u0000b', to: [{ name: 'x\uD800y', address: 'c@example.com' }], n: 3, when: new Date(0) };
    const out = storable(input);
    expect(out).toEqual({ subject: 'a\uFFFDb', to: [{ name: 'x\uFFFDy', address: 'c@example.com' }], n: 3, when: new Date(0) });
    // The input is left as it was.
    expect(input.subject).toBe('a\u0000b');
    expect(input.to[0]!.name).toBe('x\uD800y');
  });

  it('gives back the same value, not a copy, when nothing needs to change', () => {
    const input = { subject: 'fine', to: [{ address: 'c@example.com' }], headers: Object.create(null) as Record<string, string[]> };
    input.headers['x-a'] = ['b'];
    expect(storable(input)).toBe(input);
  });

  it('copies only the path to what changed and keeps the rest shared', () => {
    const kept = { address: 'ok@example.com' };
    const input = { to: [kept, { address: 'bad\u0000@example.com' }], cc: [kept] };
    const out = storable(input);
    expect(out).not.toBe(input);
    expect(out.to).not.toBe(input.to);
    expect(out.to[0]).toBe(kept);
    expect(out.cc).toBe(input.cc);
    expect(out.to[1]!.address).toBe('bad\uFFFD@example.com');
  });

  it('keeps a null prototype and a key named __proto__ as data', () => {
    const headers = Object.create(null) as Record<string, string[]>;
    Object.defineProperty(headers, '__proto__', { value: ['x\u0000'], enumerable: true, writable: true, configurable: true });
    const out = storable(headers);
    expect(Object.getPrototypeOf(out)).toBeNull();
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(JSON.stringify(out)).toBe('{"__proto__":["x\uFFFD"]}');
  });

  it('leaves buffers and class instances alone', () => {
    const b = Buffer.from([0]);
    expect(storable(b)).toBe(b);
    class Thing {
      s = 'a\u0000';
    }
    const t = new Thing();
    expect(storable(t)).toBe(t);
  });
});
