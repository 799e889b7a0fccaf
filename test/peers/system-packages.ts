/**
 * The Debian binaries the medium and browser tests drive. A missing one is named together with
 * the apt package that provides it, so the fix is one command away.
 */
import { accessSync, constants } from 'node:fs';

export const SYSTEM_PACKAGES = {
  dovecot: { binary: '/usr/sbin/dovecot', apt: 'dovecot-imapd dovecot-pop3d' },
  dante: { binary: '/usr/sbin/danted', apt: 'dante-server' },
  chromium: { binary: '/usr/bin/chromium', apt: 'chromium' },
  openssl: { binary: '/usr/bin/openssl', apt: 'openssl' },
  python3: { binary: '/usr/bin/python3', apt: 'python3-minimal' },
} as const;

export type SystemPackage = keyof typeof SYSTEM_PACKAGES;

/** A sentence per missing package (empty when all are present). */
export function missingSystemPackages(names: SystemPackage[]): string[] {
  const missing: string[] = [];
  for (const name of names) {
    const { binary, apt } = SYSTEM_PACKAGES[name];
    try {
      accessSync(binary, constants.X_OK);
    } catch {
      missing.push(`${binary} is missing: install it with \`apt-get install -y ${apt}\``);
    }
  }
  return missing;
}

/** Throws one clear error naming every missing binary and its apt package. */
export function requireSystemPackages(names: SystemPackage[]): void {
  const missing = missingSystemPackages(names);
  if (missing.length > 0) throw new Error(`Test peers unavailable:\n- ${missing.join('\n- ')}`);
}

/** Whether this process runs as root (Dovecot's userdb and Dante's system accounts need it). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
