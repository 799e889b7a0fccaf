/**
 * Raw mail, bodies and attachment bytes compressed with LZ4 where the server offers it
 * (PostgreSQL 14+ built with lz4, as Debian's and the official images are). PostgreSQL's own
 * pglz cost 2.5 times as much of the server's time per stored message and kept the data larger
 * (bench/store/toast-compression.bench.ts, the shared corpus: 0.077 vs 0.031 ms a message,
 * 24.1 vs 23 MB).
 * Only new values are written this way; existing ones stay as they are, readable either way.
 * The embedded database has no lz4 and keeps pglz.
 */
export const name = '004-lz4-where-offered';

export const up = `
do $$
begin
  if exists (select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any (enumvals)) then
    alter table messages alter column raw set compression lz4;
    alter table messages alter column text_body set compression lz4;
    alter table messages alter column html_body set compression lz4;
    alter table attachment_chunks alter column data set compression lz4;
  end if;
end
$$;
`;
