/**
 * Inbound HTML is sanitized when a message is first shown, not while a backlog is filed
 * (DOMPurify on jsdom was most of the parse's time): `display_pending` marks a message whose
 * `html_body` is still to be prepared from its raw bytes (services/message-display.ts). Messages
 * filed before this migration already hold their sanitized HTML.
 */
export const name = '002-display-on-demand';

export const up = `
alter table messages add column display_pending boolean not null default false;
`;
