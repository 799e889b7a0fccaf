/**
 * A real Dovecot 2.3 (IMAP + POP3) for medium tests, started as root on free high ports with a
 * config of its own in a temp folder (see ../shared/NOTES.md for why each setting is there).
 *
 * Each user gets a uid of its own (61000 + index, no system account needed): Linux limits
 * inotify instances per uid (fs.inotify.max_user_instances, 128 by default) and every IDLE-ing
 * imap process takes one, so 1,000 IDLE connections under one shared uid would lose push
 * ("Inotify instance limit … exceeded, disabling" in the log) and fall back to polling.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { writeCertFiles, type TestCert } from './certs.js';
import { removeFolder, spawnPeer, trackFolder, type PeerProcess } from './peer-process.js';
import { getFreePorts, waitForPort } from './ports.js';
import { requireSystemPackages } from './system-packages.js';

export interface DovecotUser {
  user: string;
  password: string;
}

export interface DovecotOptions {
  users: DovecotUser[];
  /** A certificate and key (PEM): turns TLS on (STARTTLS on the plain ports, plus imaps/pop3s). */
  tls?: Pick<TestCert, 'cert' | 'key'>;
  /** Open the implicit-TLS IMAP port (default: true when `tls` is given). */
  imaps?: boolean;
  /** Open the implicit-TLS POP3 port (default: true when `tls` is given). */
  pop3s?: boolean;
  /** `ssl = required`: no authentication before TLS. */
  tlsRequired?: boolean;
  /** `mail_max_userip_connections` (Dovecot's default is 10 per user and IP). */
  maxUserIpConnections?: number;
  /** Connections the instance must hold at once (sizes the process limits; default 100). */
  maxConnections?: number;
  /** Accept XOAUTH2/OAUTHBEARER, validated by POSTing the token to this introspection URL. */
  oauth2?: { introspectionUrl: string };
  /** Extra lines appended to dovecot.conf. */
  extraConfig?: string;
}

export interface DovecotPeer {
  host: string;
  imapPort: number;
  pop3Port: number;
  imapsPort: number | undefined;
  pop3sPort: number | undefined;
  dir: string;
  configPath: string;
  logPath: string;
  /** The maildir (Maildir++ root, INBOX) of a user. */
  maildir(user: string): string;
  /** APPENDs messages over IMAP (one connection for all); resolves with their UIDs. */
  append(user: string, folder: string, raw: Buffer | string | Array<Buffer | string>, flags?: string[]): Promise<number[]>;
  /**
   * Writes messages straight into the maildir (tmp/ then rename to new/, as a delivery agent
   * does): fast for thousands of messages; Dovecot assigns UIDs when a client next looks.
   */
  deliver(user: string, folder: string, raws: Array<Buffer | string>): Promise<void>;
  /** Creates a folder over IMAP (no error if it exists). */
  createFolder(user: string, folder: string): Promise<void>;
  /** Dovecot's log so far. */
  log(): Promise<string>;
  /** Stops Dovecot and removes its folder. */
  stop(): Promise<void>;
}

const FIRST_UID = 61000;

function buildConfig(
  dir: string,
  opts: DovecotOptions,
  ports: { imap: number; pop3: number; imaps: number; pop3s: number },
  tls: { certPath: string; keyPath: string } | undefined,
): string {
  const max = opts.maxConnections ?? 100;
  const mechanisms = opts.oauth2 ? 'plain login xoauth2 oauthbearer' : 'plain login';
  return `# Written by test/peers/dovecot.ts
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
${tls ? `ssl = ${opts.tlsRequired ? 'required' : 'yes'}\nssl_cert = <${tls.certPath}\nssl_key = <${tls.keyPath}\nssl_min_protocol = TLSv1.2` : 'ssl = no'}
disable_plaintext_auth = no
# Otherwise every failed login waits 2 s.
auth_failure_delay = 0
auth_mechanisms = ${mechanisms}
first_valid_uid = 1
mail_location = maildir:${dir}/mail/%u
mail_max_userip_connections = ${opts.maxUserIpConnections ?? 10}
pop3_uidl_format = %08Xu%08Xv
# One imap/pop3 process per connection (client_limit = 1 is what Dovecot recommends for mail
# processes); login processes in high-performance mode (service_count = 0) so TLS sessions,
# which a login process proxies for their whole life, do not cost a process each.
default_process_limit = ${max + 20}
default_client_limit = ${4 * max + 100}
default_vsz_limit = 1G
passdb {
  driver = passwd-file
  args = ${dir}/passwd
}
${opts.oauth2 ? `passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = ${dir}/oauth2.conf.ext\n}` : ''}
userdb {
  driver = passwd-file
  args = ${dir}/passwd
}
service imap-login {
  chroot =
  service_count = 0
  process_min_avail = 1
  client_limit = ${2 * max + 50}
  inet_listener imap {
    port = ${ports.imap}
  }
  inet_listener imaps {
    port = ${ports.imaps}
  }
}
service pop3-login {
  chroot =
  service_count = 0
  client_limit = ${2 * max + 50}
  inet_listener pop3 {
    port = ${ports.pop3}
  }
  inet_listener pop3s {
    port = ${ports.pop3s}
  }
}
service anvil {
  chroot =
  # No auth penalty: after a failed login anvil delays every later login from the same IP
  # (2, 4, 8, up to 15 s), and all tests connect from 127.0.0.1.
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service imap {
  process_limit = ${max + 20}
  client_limit = 1
}
service pop3 {
  process_limit = ${max + 20}
  client_limit = 1
}
${opts.extraConfig ?? ''}
`;
}

async function writeFiles(dir: string, opts: DovecotOptions): Promise<Map<string, number>> {
  const uids = new Map<string, number>();
  const lines: string[] = [];
  for (const [i, u] of opts.users.entries()) {
    if (/[:\n]/.test(u.user) || /[:\n]/.test(u.password)) throw new Error(`user ${u.user}: ":" and newlines cannot be used in a passwd-file`);
    const uid = FIRST_UID + i;
    uids.set(u.user, uid);
    const home = path.join(dir, 'mail', u.user);
    // Created and owned by the user's uid: the imap process runs as that uid, not as root.
    await mkdir(home, { recursive: true });
    await chown(home, uid, uid);
    lines.push(`${u.user}:{PLAIN}${u.password}:${uid}:${uid}::${home}::`);
  }
  await writeFile(path.join(dir, 'passwd'), lines.join('\n') + '\n', { mode: 0o644 });
  if (opts.oauth2) {
    await writeFile(
      path.join(dir, 'oauth2.conf.ext'),
      [
        'introspection_mode = post',
        `introspection_url = ${opts.oauth2.introspectionUrl}`,
        'username_attribute = username',
        'active_attribute = active',
        'active_value = true',
        'force_introspection = yes',
        '',
      ].join('\n'),
    );
  }
  return uids;
}

/** Starts Dovecot; resolves when every port accepts connections. */
export async function startDovecot(opts: DovecotOptions): Promise<DovecotPeer> {
  requireSystemPackages(['dovecot']);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mailroom-dovecot-'));
  trackFolder(dir);
  // The auth and mail processes do not run as root: every folder on the way must be traversable.
  await chmod(dir, 0o755);
  await mkdir(path.join(dir, 'mail'), { mode: 0o755 });
  const uids = await writeFiles(dir, opts);
  const tlsFiles = opts.tls ? await writeCertFiles(opts.tls, dir) : undefined;
  const configPath = path.join(dir, 'dovecot.conf');
  const logPath = path.join(dir, 'dovecot.log');
  const withTls = opts.tls !== undefined;
  const wantImaps = opts.imaps ?? withTls;
  const wantPop3s = opts.pop3s ?? withTls;

  let proc: PeerProcess | undefined;
  let ports = { imap: 0, pop3: 0, imaps: 0, pop3s: 0 };
  for (let attempt = 1; ; attempt++) {
    const [imap, pop3, imaps, pop3s] = await getFreePorts(4);
    ports = { imap: imap!, pop3: pop3!, imaps: wantImaps ? imaps! : 0, pop3s: wantPop3s ? pop3s! : 0 };
    await writeFile(configPath, buildConfig(dir, opts, ports, tlsFiles));
    proc = spawnPeer('/usr/sbin/dovecot', ['-F', '-c', configPath]);
    const current = proc;
    const alive = () => {
      const reason = current.exited();
      return reason ? `Dovecot stopped: ${reason}\n${current.output()}` : undefined;
    };
    try {
      for (const port of [ports.imap, ports.pop3, ports.imaps, ports.pop3s]) {
        if (port) await waitForPort('127.0.0.1', port, { alive });
      }
      break;
    } catch (err) {
      await current.stop();
      const log = await readFile(logPath, 'utf8').catch(() => '');
      // Another process took a port between our pick and Dovecot's bind: pick again.
      if (attempt < 3 && /Address already in use/.test(`${log}${current.output()}`)) continue;
      await removeFolder(dir);
      throw new Error(`Dovecot did not start: ${(err as Error).message}\n${log}`);
    }
  }
  const running = proc;

  const passwordOf = (user: string): string => {
    const found = opts.users.find((u) => u.user === user);
    if (!found) throw new Error(`no Dovecot user ${user}`);
    return found.password;
  };
  const withClient = async <T>(user: string, fn: (client: ImapFlow) => Promise<T>): Promise<T> => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: ports.imap,
      secure: false,
      // The test server's certificate is whatever the test chose; this helper is not under test.
      doSTARTTLS: withTls ? true : false,
      tls: { rejectUnauthorized: false },
      auth: { user, pass: passwordOf(user) },
      logger: false,
    });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.logout().catch(() => client.close());
    }
  };
  const folderDir = (user: string, folder: string): string => {
    const root = path.join(dir, 'mail', user);
    // Maildir++: INBOX is the root, other folders are ".Name" with "." as the separator.
    return folder.toUpperCase() === 'INBOX' ? root : path.join(root, `.${folder.replace(/\//g, '.')}`);
  };
  let deliveries = 0;

  return {
    host: '127.0.0.1',
    imapPort: ports.imap,
    pop3Port: ports.pop3,
    imapsPort: ports.imaps || undefined,
    pop3sPort: ports.pop3s || undefined,
    dir,
    configPath,
    logPath,
    maildir: (user) => path.join(dir, 'mail', user),
    append: (user, folder, raw, flags) =>
      withClient(user, async (client) => {
        const uidsOut: number[] = [];
        for (const one of Array.isArray(raw) ? raw : [raw]) {
          const res = await client.append(folder, typeof one === 'string' ? Buffer.from(one) : one, flags);
          if (!res || !res.uid) throw new Error(`APPEND to ${folder} returned no UID`);
          uidsOut.push(res.uid);
        }
        return uidsOut;
      }),
    async deliver(user, folder, raws) {
      const uid = uids.get(user);
      if (uid === undefined) throw new Error(`no Dovecot user ${user}`);
      const base = folderDir(user, folder);
      for (const sub of ['', 'tmp', 'new', 'cur']) {
        await mkdir(path.join(base, sub), { recursive: true });
        await chown(path.join(base, sub), uid, uid);
      }
      if (base !== path.join(dir, 'mail', user)) {
        await writeFile(path.join(base, 'maildirfolder'), '');
        await chown(path.join(base, 'maildirfolder'), uid, uid);
      }
      for (const raw of raws) {
        const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
        // Unique name per maildir(5): time, a per-process counter and randomness, then the size.
        const name = `${Math.floor(Date.now() / 1000)}.M${++deliveries}P${process.pid}R${randomBytes(4).toString('hex')}.mailroom,S=${bytes.length}`;
        const tmp = path.join(base, 'tmp', name);
        await writeFile(tmp, bytes, { mode: 0o600 });
        await chown(tmp, uid, uid);
        await rename(tmp, path.join(base, 'new', name));
      }
    },
    createFolder: (user, folder) =>
      withClient(user, async (client) => {
        await client.mailboxCreate(folder).catch((err: { responseText?: string }) => {
          if (!/exists/i.test(err.responseText ?? '')) throw err;
        });
      }),
    log: () => readFile(logPath, 'utf8').catch(() => ''),
    async stop() {
      await running.stop();
      await removeFolder(dir);
    },
  };
}
