import { describe, expect, it } from 'vitest';
import { isPublicAddress } from './address-policy.js';

describe('isPublicAddress', () => {
  it.each([
    '127.0.0.1', '127.8.9.10', '::1', '[::1]', '::ffff:127.0.0.1', '::ffff:7f00:1', '169.254.169.254', '::ffff:169.254.169.254', '10.0.0.1', '10.255.255.255',
    '172.16.0.1', '172.31.255.255', '192.168.1.1', '0.0.0.0', '0.1.2.3', '100.64.0.1', '224.0.0.1', '255.255.255.255', 'fc00::1', 'fd12:3456::1', 'fe80::1',
    'ff02::1', '::', '64:ff9b::a00:1', '2002:7f00:1::', '2001:db8::1', 'not-an-ip', '', 'localhost',
  ])('refuses %s', (a) => expect(isPublicAddress(a)).toBe(false));

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '172.15.255.255', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('allows %s', (a) =>
    expect(isPublicAddress(a)).toBe(true),
  );
});
