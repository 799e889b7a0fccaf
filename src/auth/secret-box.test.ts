import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../domain/errors.js';
import { keyId, parseSecretKeys, SecretBox } from './secret-box.js';

const place = { table: 'mailboxes', column: 'secrets_enc', row: 'support' };
const key = () => randomBytes(32).toString('base64');

describe('SecretBox', () => {
  it('round-trips and never shows the plaintext in the ciphertext', () => {
    const box = new SecretBox(parseSecretKeys(key()));
    const enc = box.encrypt('hunter2-password', place);
    expect(enc).not.toContain('hunter2');
    expect(enc.split('.')[1]).toBe(box.currentKeyId);
    expect(box.decrypt(enc, place)).toBe('hunter2-password');
    expect(box.encrypt('same', place)).not.toBe(box.encrypt('same', place));
  });

  it('refuses a ciphertext moved to another row or column (associated data)', () => {
    const box = new SecretBox(parseSecretKeys(key()));
    const enc = box.encrypt('pw', place);
    for (const other of [{ ...place, row: 'sales' }, { ...place, column: 'x' }, { ...place, table: 'senders' }]) {
      expect(() => box.decrypt(enc, other)).toThrowError(expect.objectContaining({ code: 'SECRET_CORRUPT' }));
    }
  });

  it('rotates: old values still decrypt with the old key listed second, new ones use the first', () => {
    const oldKey = key();
    const newKey = key();
    const before = new SecretBox(parseSecretKeys(oldKey)).encrypt('pw', place);
    const rotated = new SecretBox(parseSecretKeys(`${newKey},${oldKey}`));
    expect(rotated.decrypt(before, place)).toBe('pw');
    expect(rotated.isStale(before)).toBe(true);
    expect(rotated.isStale(rotated.encrypt('pw', place))).toBe(false);
    const onlyNew = new SecretBox(parseSecretKeys(newKey));
    expect(() => onlyNew.decrypt(before, place)).toThrowError(expect.objectContaining({ code: 'SECRET_KEY_MISSING' }));
  });

  it('detects tampering', () => {
    const box = new SecretBox(parseSecretKeys(key()));
    const parts = box.encrypt('pw', place).split('.');
    parts[3] = Buffer.from('xx').toString('base64url');
    expect(() => box.decrypt(parts.join('.'), place)).toThrow(AppError);
  });

  it('refuses keys that are not 32 bytes, naming what to do', () => {
    expect(() => parseSecretKeys(Buffer.alloc(16).toString('base64'))).toThrowError(expect.objectContaining({ code: 'SECRET_KEY_INVALID', hint: expect.stringContaining('randomBytes(32)') }));
  });

  it('fingerprints are keyed and bound to their purpose', () => {
    const k = key();
    const box = new SecretBox(parseSecretKeys(k));
    const fp = box.fingerprint('user-password:alice', 'pw');
    expect(box.fingerprintMatches(fp, 'user-password:alice', 'pw')).toBe(true);
    expect(box.fingerprintMatches(fp, 'user-password:bob', 'pw')).toBe(false);
    expect(new SecretBox(parseSecretKeys(key())).fingerprintMatches(fp, 'user-password:alice', 'pw')).toBe(false);
    expect(keyId(Buffer.from(k, 'base64'))).toBe(box.currentKeyId);
  });
});
