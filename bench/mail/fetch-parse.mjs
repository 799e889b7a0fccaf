/**
 * The baseline of the ingest-throughput bench: one imapflow FETCH of the whole folder, mailparser
 * `simpleParser` on each message as it arrives, no database. Plain JavaScript, so that it also
 * runs in a fresh worker thread (a new V8 isolate that has compiled none of this code yet, as a
 * just-started Mailroom has not) without a TypeScript loader.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ImapFlow } from 'imapflow';
import { simpleParser } from 'mailparser';

/** @param {import('./fetch-parse.d.mts').Mailbox} mailbox */
export async function fetchAndParse(mailbox) {
  const c = new ImapFlow({ host: mailbox.host, port: mailbox.port, secure: false, doSTARTTLS: false, auth: { user: mailbox.user, pass: mailbox.pass }, logger: false });
  c.on('error', () => undefined);
  await c.connect();
  try {
    const t = performance.now();
    const cpu = process.cpuUsage();
    const lock = await c.getMailboxLock('INBOX');
    let count = 0;
    let failed = 0;
    let bytes = 0;
    try {
      for await (const m of c.fetch('1:*', { uid: true, source: true })) {
        count++;
        bytes += m.source?.length ?? 0;
        await simpleParser(m.source).catch(() => failed++);
      }
    } finally {
      lock.release();
    }
    const used = process.cpuUsage(cpu);
    return { ms: performance.now() - t, cpuMs: (used.user + used.system) / 1000, count, failed, bytes };
  } finally {
    await c.logout().catch(() => c.close());
  }
}

// Started as a worker by `fetchAndParseCold`: run once, answer, end.
if (parentPort && workerData && workerData.fetchAndParse) {
  parentPort.postMessage(await fetchAndParse(workerData.fetchAndParse));
}
