import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PrematureCloseError, readEach } from './stream-reader.js';

/** A byte stream that produces `count` chunks on demand and counts how often it was asked. */
function counted(count: number, highWaterMark = 1) {
  let produced = 0;
  const stream = new Readable({
    objectMode: true,
    highWaterMark,
    read() {
      if (produced === count) this.push(null);
      else this.push(produced++);
    },
  });
  return { stream, produced: () => produced };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('readEach', () => {
  it('hands every chunk over in order and resolves at the end', async () => {
    const seen: number[] = [];
    await readEach<number>(Readable.from([1, 2, 3, 4]), (n) => {
      seen.push(n);
    });
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('reads nothing more while the consumer’s promise is pending (backpressure)', async () => {
    const { stream, produced } = counted(100);
    const seen: number[] = [];
    let release!: () => void;
    const done = readEach<number>(stream, (n) => {
      seen.push(n);
      if (n === 0) return new Promise<void>((r) => (release = r));
    });
    for (let i = 0; i < 5; i++) await tick();
    expect(seen).toEqual([0]);
    // The stream fills its buffer (highWaterMark 1) and then stops producing.
    expect(produced()).toBeLessThanOrEqual(3);
    release();
    await done;
    expect(seen).toHaveLength(100);
    expect(seen[99]).toBe(99);
  });

  it('rejects with the stream’s error', async () => {
    const s = new PassThrough();
    const done = readEach(s, () => undefined);
    s.write('a');
    s.destroy(new Error('disk gone'));
    await expect(done).rejects.toThrow('disk gone');
  });

  it('rejects a stream destroyed before its end as a premature close', async () => {
    const s = new PassThrough();
    const done = readEach(s, () => undefined);
    s.write('a');
    s.destroy();
    await expect(done).rejects.toBeInstanceOf(PrematureCloseError);
    await expect(done).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('destroys the stream and rejects when the consumer throws or its promise rejects', async () => {
    const a = new PassThrough();
    const thrown = readEach(a, () => {
      throw new Error('too large');
    });
    a.write('x');
    await expect(thrown).rejects.toThrow('too large');
    expect(a.destroyed).toBe(true);

    const b = new PassThrough();
    const rejected = readEach(b, () => Promise.reject(new Error('sink failed')));
    b.write('x');
    await expect(rejected).rejects.toThrow('sink failed');
    expect(b.destroyed).toBe(true);
  });

  it('settles at once on a stream already ended or destroyed', async () => {
    const ended = Readable.from([]);
    ended.resume();
    await new Promise((r) => ended.once('end', r));
    await expect(readEach(ended, () => undefined)).resolves.toBeUndefined();

    const gone = new PassThrough();
    gone.destroy(new Error('was closed'));
    await expect(readEach(gone, () => undefined)).rejects.toThrow('was closed');
  });

  it('reads byte streams whole: the bytes come out as they went in', async () => {
    const s = new PassThrough();
    const chunks: Buffer[] = [];
    const done = readEach<Buffer>(s, (c) => {
      chunks.push(c);
    });
    for (let i = 0; i < 50; i++) s.write(Buffer.from(`line ${i}\n`));
    s.end();
    await done;
    expect(Buffer.concat(chunks).toString()).toBe(Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join(''));
  });
});
