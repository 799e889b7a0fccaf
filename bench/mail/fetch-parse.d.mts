export interface Mailbox {
  host: string;
  port: number;
  user: string;
  pass: string;
}

export interface FetchParseRun {
  ms: number;
  /** CPU of the whole process while it ran. */
  cpuMs: number;
  count: number;
  failed: number;
  bytes: number;
}

export function fetchAndParse(mailbox: Mailbox): Promise<FetchParseRun>;
