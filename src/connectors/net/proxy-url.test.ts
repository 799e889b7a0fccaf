import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { socks5UrlSchema } from '../../config/schema.js';
import { describeProxy, parseProxyUrl, resolveProxy } from './proxy-url.js';

describe('parseProxyUrl', () => {
  it('reads host, port, scheme and percent-decoded credentials', () => {
    expect(parseProxyUrl('socks5://proxy.example.net:1080')).toEqual({ protocol: 'socks5', host: 'proxy.example.net', port: 1080 });
    expect(parseProxyUrl('socks5h://u%40corp:p%3Ass%2Fw@10.0.0.1:1080/')).toEqual({
      protocol: 'socks5h',
      host: '10.0.0.1',
      port: 1080,
      username: 'u@corp',
      password: 'p:ss/w',
    });
    expect(parseProxyUrl('socks5://[::1]:1080')).toMatchObject({ host: '::1', port: 1080 });
    expect(parseProxyUrl('socks5://user:@h:1')).toMatchObject({ username: 'user', password: '' });
  });

  it('refuses what is not socks5://[user:pass@]host:port, with PROXY_URL_INVALID and no password in the message', () => {
    for (const bad of ['http://h:1', 'socks5://h', 'socks5://h:0', 'socks5://h:70000', 'socks5://h:1/path', 'socks4://h:1', 'socks5://u:%ZZ@h:1']) {
      expect(() => parseProxyUrl(bad), bad).toThrow(expect.objectContaining({ code: 'PROXY_URL_INVALID', status: 400 }));
    }
    let message = '';
    try {
      parseProxyUrl('socks5://user:secret-pw@h');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('user:********@h');
    expect(message).not.toContain('secret-pw');
    expect(() => parseProxyUrl(`socks5://${'u'.repeat(256)}:p@h:1`)).toThrow(/255 bytes/);
  });

  it('any credentials survive encodeURIComponent → parse (the form the config schema accepts)', () => {
    const cred = fc.string({ minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(cred, fc.string({ maxLength: 40 }), (user, pass) => {
        const url = `socks5://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@proxy.local:1080`;
        expect(socks5UrlSchema.safeParse(url).success).toBe(true);
        expect(parseProxyUrl(url)).toMatchObject({ username: user, password: pass, host: 'proxy.local', port: 1080 });
      }),
    );
  });
});

describe('resolveProxy', () => {
  const global = 'socks5://g:1080';
  it('inherit (the default) takes the global proxy, none is direct, a URL wins', () => {
    expect(resolveProxy('inherit', global)).toMatchObject({ host: 'g' });
    expect(resolveProxy(undefined, global)).toMatchObject({ host: 'g' });
    expect(resolveProxy('inherit', undefined)).toBeUndefined();
    expect(resolveProxy('inherit', null)).toBeUndefined();
    expect(resolveProxy('none', global)).toBeUndefined();
    expect(resolveProxy('socks5h://own:9', global)).toMatchObject({ host: 'own', port: 9, protocol: 'socks5h' });
  });

  it('describes a proxy without its password', () => {
    const text = describeProxy(parseProxyUrl('socks5://bob:hunter2@p:1080'));
    expect(text).toBe('socks5://bob:********@p:1080');
    expect(describeProxy(parseProxyUrl('socks5h://[::1]:1'))).toBe('socks5h://[::1]:1');
  });
});
