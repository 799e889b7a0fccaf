/**
 * The acknowledgement to the source (flag, move, delete after the commit) is recorded on the
 * imported key (mailbox_uidls), not on the message row. A message row is wide (its raw bytes,
 * eight indexes): rewriting it once more per message only to note the acknowledgement was the
 * connector's second largest statement on a backlog (ingest-throughput bench). A key row is
 * small. It also covers what the message row could not: a key stored as a duplicate of another
 * message's bytes, and a key whose message retention has purged, are acknowledged again after
 * an interruption too.
 */
export const name = '003-acks-with-keys';

export const up = `
alter table mailbox_uidls add column acked_at timestamptz;
update mailbox_uidls set acked_at = imported_at;
update mailbox_uidls u set acked_at = null
  from messages m
 where m.mailbox_id = u.mailbox_id and m.source_key = u.uidl and m.source_acked_at is null;
create index mailbox_uidls_unacked on mailbox_uidls (mailbox_id, imported_at, uidl) where acked_at is null;
drop index messages_unacked;
alter table messages drop column source_acked_at;
`;
