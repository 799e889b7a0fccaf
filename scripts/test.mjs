// `npm test`: every test (unit, medium against real peers, browser). It installs the Debian
// packages the peers need when they are missing (as root), builds, runs vitest, and ends with
// the plain line `N passed, N failed, N skipped` that CI reads.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Binary → Debian package. The peers the tests start themselves (NOTES.md). */
const NEEDED = [
  ['/usr/sbin/dovecot', 'dovecot-imapd'],
  ['/usr/lib/dovecot/imap', 'dovecot-imapd'],
  ['/usr/lib/dovecot/pop3', 'dovecot-pop3d'],
  ['/usr/sbin/danted', 'dante-server'],
  ['/usr/bin/chromium', 'chromium'],
  ['/usr/bin/openssl', 'openssl'],
];

function ensurePackages() {
  const missing = [...new Set(NEEDED.filter(([bin]) => !existsSync(bin)).map(([, pkg]) => pkg))];
  if (missing.length === 0) return;
  const command = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) {
    console.error(`The tests need these Debian packages, which are missing: ${missing.join(', ')}.\nInstall them with:\n  sudo apt-get update && sudo ${command}\nthen run npm test again.`);
    process.exit(1);
  }
  console.error(`Installing the test peers: ${missing.join(', ')} (apt-get)…`);
  // Keep apt from starting the system's own Dovecot/Dante services: the tests start their own.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    const install = update.status === 0 ? spawnSync('sh', ['-c', command], { stdio: 'inherit', env }) : update;
    if (install.status !== 0) {
      console.error(`Installing failed. Install by hand: apt-get update && ${command}`);
      process.exit(1);
    }
  } finally {
    if (ownPolicy) unlinkSync(policy);
  }
}

ensurePackages();

const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.error('The build failed; no tests were run.');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const counts = path.join(os.tmpdir(), `mailroom-test-counts-${process.pid}.json`);
rmSync(counts, { force: true });
const vitest = spawnSync(process.execPath, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, MAILROOM_TEST_COUNTS: counts },
});
let line = '0 passed, 1 failed';
if (existsSync(counts)) {
  const c = JSON.parse(readFileSync(counts, 'utf8'));
  line = `${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`;
  rmSync(counts, { force: true });
}
const code = vitest.status ?? 1;
// CI reads this plain line; it must be the last one.
console.log(line);
process.exit(code);
