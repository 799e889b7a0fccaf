import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTED } from './schema.js';
import { canonicalJson, changedFields, joinSecrets, splitSecrets } from './secrets.js';

describe('splitSecrets / joinSecrets', () => {
  it('takes the password and the proxy password out, and puts them back', () => {
    const spec = { name: 'm', auth: { user: 'u', password: 'p@ss' }, proxy: 'socks5://pu:pp%40x@proxy:1080' };
    const { spec: pub, secrets } = splitSecrets(spec);
    expect(pub).toEqual({ name: 'm', auth: { user: 'u', password: REDACTED }, proxy: `socks5://pu:${REDACTED}@proxy:1080` });
    expect(secrets).toEqual({ 'auth.password': 'p@ss', 'proxy.password': 'pp@x' });
    expect(joinSecrets(pub, secrets)).toEqual({ ...spec, proxy: 'socks5://pu:pp%40x@proxy:1080' });
    expect(JSON.stringify(pub)).not.toContain('p@ss');
  });

  it('leaves specs without secrets alone', () => {
    expect(splitSecrets({ proxy: 'inherit' })).toEqual({ spec: { proxy: 'inherit' }, secrets: {} });
    expect(splitSecrets({ proxy: 'socks5://h:1' })).toEqual({ spec: { proxy: 'socks5://h:1' }, secrets: {} });
  });

  it('any password survives the round trip', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }).filter((s) => !/[@/\s]/.test(s)), (pw, proxyPw) => {
        const spec = { auth: { user: 'u', password: pw }, proxy: `socks5://u:${encodeURIComponent(proxyPw)}@h:1` };
        const { spec: pub, secrets } = splitSecrets(spec);
        const joined = joinSecrets(pub, secrets);
        expect(joined.auth.password).toBe(pw);
        expect(decodeURIComponent(/:([^:@]*)@/.exec(joined.proxy)![1]!)).toBe(proxyPw);
      }),
    );
  });
});

describe('canonicalJson / changedFields', () => {
  it('ignores key order and undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: undefined } })).toBe(canonicalJson({ a: { d: [1, 2] }, b: 1 }));
    expect(changedFields({ a: 1, b: { x: 1 }, c: 3 }, { a: 1, b: { x: 2 }, d: 4 })).toEqual(['b', 'c', 'd']);
  });
});
