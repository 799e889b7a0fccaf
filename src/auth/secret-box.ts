/**
 * Secrets at rest: AES-256-GCM per value, a fresh 96-bit IV each time, and the place the value
 * belongs to (table, column, row) as associated data, so a ciphertext copied to another row or
 * column fails to decrypt instead of leaking there. Each value names the id of its key: several
 * keys may be loaded (the first encrypts, all decrypt), which is how keys are rotated.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '../domain/errors.js';

const VERSION = 'v1';

export interface SecretKey {
  id: string;
  key: Buffer;
}

export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** Parses `MAILROOM_SECRET_KEY`: one or more comma-separated base64 keys of 32 bytes each. */
export function parseSecretKeys(text: string): SecretKey[] {
  const keys = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((b64, i) => {
      const key = Buffer.from(b64, 'base64');
      if (key.length !== 32) {
        throw new AppError('SECRET_KEY_INVALID', `Secret key ${i + 1} is ${key.length} bytes; it must be 32 bytes, base64-encoded`, {
          hint: 'Generate one with: node -e "console.log(require(\'crypto\').randomBytes(32).toString(\'base64\'))"',
        });
      }
      return { id: keyId(key), key };
    });
  if (keys.length === 0) throw new AppError('SECRET_KEY_INVALID', 'The secret key is empty', { hint: 'Set MAILROOM_SECRET_KEY to 32 random bytes in base64.' });
  return keys;
}

/** Where a secret lives; bound into the ciphertext as associated data. */
export interface SecretPlace {
  table: string;
  column: string;
  row: string;
}

const aadOf = (p: SecretPlace): Buffer => Buffer.from(`${p.table}/${p.column}/${p.row}`, 'utf8');

export class SecretBox {
  private readonly byId: Map<string, Buffer>;
  private readonly current: SecretKey;

  constructor(keys: SecretKey[]) {
    if (keys.length === 0) throw new Error('SecretBox needs at least one key');
    this.current = keys[0]!;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  encrypt(plaintext: string, place: SecretPlace): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(aadOf(place));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, this.current.id, iv.toString('base64url'), ct.toString('base64url'), tag.toString('base64url')].join('.');
  }

  decrypt(token: string, place: SecretPlace): string {
    const parts = token.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) {
      throw new AppError('SECRET_CORRUPT', `The stored secret for ${place.table} "${place.row}" is not in a known format`, {
        status: 500,
        hint: 'Set the secret again (apply the config with the real value).',
      });
    }
    const [, kid, iv, ct, tag] = parts as [string, string, string, string, string];
    const key = this.byId.get(kid);
    if (!key) {
      throw new AppError('SECRET_KEY_MISSING', `The secret for ${place.table} "${place.row}" was encrypted with key ${kid}, which is not loaded`, {
        status: 500,
        hint: 'Add that key to MAILROOM_SECRET_KEY (comma-separated, the new key first), or set the secret again.',
      });
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(aadOf(place));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new AppError('SECRET_CORRUPT', `The stored secret for ${place.table} "${place.row}" does not decrypt (wrong key or moved value)`, {
        status: 500,
        hint: 'Check MAILROOM_SECRET_KEY is the key the secrets were stored with, or set the secret again.',
      });
    }
  }

  /** True when the value was encrypted with an older key and should be re-encrypted. */
  isStale(token: string): boolean {
    return token.split('.')[1] !== this.current.id;
  }

  /**
   * A keyed fingerprint (HMAC-SHA256 with the current key): tells whether a value changed
   * without storing it, e.g. a password in a config file that is applied again.
   */
  fingerprint(purpose: string, value: string): string {
    return `${this.current.id}:${createHmac('sha256', this.current.key).update(`${purpose}\0${value}`).digest('base64url')}`;
  }

  /**
   * Keys for another purpose (the reply-token HMAC), derived from every loaded key, the current
   * one first: rotating the secret key rotates these too, and old ones still verify.
   */
  deriveKeys(purpose: string): Buffer[] {
    const current = createHmac('sha256', this.current.key).update(`mailroom derive ${purpose}`).digest();
    const others = [...this.byId].filter(([id]) => id !== this.current.id).map(([, key]) => createHmac('sha256', key).update(`mailroom derive ${purpose}`).digest());
    return [current, ...others];
  }

  fingerprintMatches(stored: string | null, purpose: string, value: string): boolean {
    if (!stored) return false;
    const a = Buffer.from(stored);
    const b = Buffer.from(this.fingerprint(purpose, value));
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
