/** Numbered migrations, applied in order. A landed migration is never edited: add the next one. */
import * as m001 from './001-initial.js';
import * as m002 from './002-display-on-demand.js';
import * as m003 from './003-acks-with-keys.js';
import * as m004 from './004-lz4-where-offered.js';
import * as m005 from './005-embedded-stores-mail-uncompressed.js';

export interface MigrationScript {
  name: string;
  up: string;
}

export const MIGRATIONS: readonly MigrationScript[] = [m001, m002, m003, m004, m005];
