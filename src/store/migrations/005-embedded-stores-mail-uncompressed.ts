/**
 * The embedded database (PGlite) stores raw mail and message bodies without compression. It has
 * no lz4 (migration 004), and its pglz runs on Mailroom's main thread, the one the connector,
 * filing, routing and the API share: on a cold 10,000-message backlog (ingest-throughput, four
 * alternated rounds against the code before) that thread's CPU per message fell from 0.56-0.62
 * to 0.52-0.56 ms and the filed rate rose in every round (0.40-0.43x the baseline against
 * 0.39-0.41x). The cost is disk: the raw mail of the shared corpus takes 35.8 MB per 10,000
 * messages instead of 24.1 (bench/store/toast-compression.bench.ts, which also reads it back
 * faster). Large values still go out of line (TOAST), only uncompressed. A PostgreSQL server
 * keeps its compression (lz4, or pglz on its own cores). Only new values are written this way;
 * existing ones stay as they are, readable either way.
 */
export const name = '005-embedded-stores-mail-uncompressed';

export const up = `
do $$
begin
  if version() like '%emscripten%' then
    alter table messages alter column raw set storage external;
    alter table messages alter column text_body set storage external;
    alter table messages alter column html_body set storage external;
  end if;
end
$$;
`;
