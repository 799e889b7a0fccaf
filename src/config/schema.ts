/**
 * The config-as-code file of API.md, as zod schemas. Every key has the default API.md shows;
 * unknown keys are errors (strict objects). Parsing is pure: cross-references against the store
 * are checked by `config/references.ts`.
 */
import { z } from 'zod';

/** Names of senders, mailboxes, queues, skills: what an admin types in YAML and sees in URLs. */
export const nameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a name of letters, digits, ".", "_" or "-" (at most 64)');
export const loginSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/, 'expected a login of letters, digits, ".", "_", "@" or "-"');

const level = z.number().int().min(1, 'expected a level from 1 to 10').max(10, 'expected a level from 1 to 10');
const skillName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'expected a skill name');
const languageCode = z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/, 'expected a language code such as en or pt-BR');
export const levelMapSchema = z.record(skillName, level);
export const languageMapSchema = z.record(languageCode, level);

const port = z.number().int().min(1).max(65535);
const host = z.string().min(1).max(253);
const security = z.enum(['tls', 'starttls', 'none']);

/** Placeholder that export writes for every secret; applying it keeps the stored value. */
export const REDACTED = '********';

export const socks5UrlSchema = z
  .string()
  .regex(/^socks5h?:\/\/([^:@/\s]+(:[^@/\s]*)?@)?[^:@/\s]+:\d{1,5}\/?$/, 'expected socks5://[user:password@]host:port');
const proxySetting = z.union([z.literal('inherit'), z.literal('none'), socks5UrlSchema], {
  error: 'expected inherit, none or socks5://[user:password@]host:port',
});

const fingerprint = z
  .string()
  .regex(/^sha256:([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, 'expected sha256: followed by 32 hex bytes');

export const tlsPolicySchema = z
  .strictObject({
    verify: z.enum(['chain', 'peer', 'peer-or-chain', 'none']).default('chain'),
    fingerprint: fingerprint.optional(),
    ca: z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'expected a PEM certificate' }).optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.verify === 'peer' || v.verify === 'peer-or-chain') && !v.fingerprint) {
      ctx.addIssue({ code: 'custom', path: ['fingerprint'], message: `verify: ${v.verify} needs a fingerprint ("sha256:AB:…")` });
    }
  });

const authSchema = z
  .strictObject({
    user: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    oauth: z.strictObject({ app: nameSchema }).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.oauth && v.password) ctx.addIssue({ code: 'custom', message: 'give either password or oauth, not both' });
    if (!v.oauth && !v.password) ctx.addIssue({ code: 'custom', path: ['password'], message: 'expected a password (or oauth: { app: NAME })' });
    if (v.password && !v.user) ctx.addIssue({ code: 'custom', path: ['user'], message: 'expected the user name that goes with the password' });
  });

export const senderSchema = z.strictObject({
  name: nameSchema,
  type: z.enum(['smtp', 'graph', 'ews']),
  host,
  port,
  security,
  auth: authSchema.optional(),
  from: z.string().min(3).regex(/@/, 'expected an address such as "Support <support@example.com>"'),
  proxy: proxySetting.default('inherit'),
  tls: tlsPolicySchema.default({ verify: 'chain' }),
});

const afterImport = z
  .string()
  .regex(/^(seen|delete|none|move:.+)$/, 'expected seen, move:FOLDER, delete or none');

export const mailboxSchema = z
  .strictObject({
    name: nameSchema,
    protocol: z.enum(['imap', 'pop3', 'graph', 'ews']),
    host,
    port,
    security,
    auth: authSchema,
    folder: z.string().min(1).default('INBOX'),
    after_import: afterImport.optional(),
    proxy: proxySetting.default('inherit'),
    tls: tlsPolicySchema.default({ verify: 'chain' }),
    liveness: z
      .strictObject({
        keepalive_s: z.number().int().min(5).max(3600).default(300),
        timeout_s: z.number().int().min(1).max(600).default(30),
        reconnect_s: z.number().int().min(1).max(3600).default(10),
      })
      .default({ keepalive_s: 300, timeout_s: 30, reconnect_s: 10 }),
    /** Extension of API.md: POP3 has no push, so it polls this often. */
    poll_s: z.number().int().min(5).max(3600).default(60),
    /** Extension of API.md: an admin can disable a mailbox without deleting it. */
    enabled: z.boolean().default(true),
    queue: nameSchema,
  })
  .superRefine((m, ctx) => {
    // A dead IDLE is found within keepalive + timeout; over 2x keepalive only if timeout > keepalive.
    if (m.liveness.timeout_s > m.liveness.keepalive_s) {
      ctx.addIssue({ code: 'custom', path: ['liveness', 'timeout_s'], message: `must not exceed keepalive_s (${m.liveness.keepalive_s}): a dead connection would go unnoticed longer` });
    }
  })
  .transform((m) => ({
    ...m,
    // API.md: after_import defaults to seen for IMAP and none for POP3.
    after_import: m.after_import ?? (m.protocol === 'pop3' ? 'none' : 'seen'),
  }))
  .superRefine((m, ctx) => {
    if (m.protocol === 'pop3' && (m.after_import === 'seen' || m.after_import.startsWith('move:'))) {
      ctx.addIssue({ code: 'custom', path: ['after_import'], message: 'POP3 can only delete or leave messages (delete | none)' });
    }
  });

const relaxStep = z.strictObject({
  after_s: z.number().int().min(0),
  skills: levelMapSchema.optional(),
  drop_language: z.boolean().optional(),
  add_queues: z.array(nameSchema).optional(),
});

export const routingSchema = z.strictObject({
  mode: z.enum(['offer', 'assign']).default('offer'),
  policy: z.enum(['longest-idle', 'least-busy', 'most-skilled', 'least-skilled', 'round-robin']).default('longest-idle'),
  offer_timeout_s: z.number().int().min(5).max(3600).default(120),
  max_missed_offers: z.number().int().min(1).max(100).default(3),
  broadcast: z.number().int().min(1).max(50).default(1),
  sticky: z
    .strictObject({
      scope: z.enum(['any', 'queue', 'off']).default('any'),
      hours: z.number().min(0).max(24 * 90).default(72),
      wait_s: z.number().int().min(0).max(86400).default(60),
    })
    .default({ scope: 'any', hours: 72, wait_s: 60 }),
  relax: z
    .array(relaxStep)
    .default([])
    .superRefine((steps, ctx) => {
      for (let i = 1; i < steps.length; i++) {
        if (steps[i]!.after_s < steps[i - 1]!.after_s) {
          ctx.addIssue({ code: 'custom', path: [i, 'after_s'], message: 'relaxation steps must be in order of after_s' });
        }
      }
    }),
});

export const ROUTING_DEFAULTS = routingSchema.parse({});

export const queueSchema = z.strictObject({
  name: nameSchema,
  skills: levelMapSchema.default({}),
  language: z.union([z.literal('auto'), languageCode]).default('auto'),
  priority: z.number().int().min(1).max(10).default(5),
  sla_first_response_minutes: z.number().int().min(1).max(60 * 24 * 30).default(60),
  sender: nameSchema,
  signature: z.string().max(10_000).optional(),
  routing: routingSchema.default(ROUTING_DEFAULTS),
  auto_ack: z.strictObject({ subject: z.string().min(1).max(998), text: z.string().min(1) }).optional(),
  max_message_mb: z.number().min(1).max(1024).default(50),
  retention_days: z.number().int().min(1).max(36500).default(365),
  /** Extension of API.md: auto-replies, bounces and lists create work for agents (default: kept, not routed). */
  route_automated: z.boolean().default(false),
});

export const pauseReasonSchema = z.strictObject({
  code: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'expected a code of lower-case letters, digits, "_" or "-"'),
  label: z.string().min(1).max(80),
  productive: z.boolean().default(false),
  max_minutes: z.number().int().min(1).max(24 * 60).optional(),
});

/** Used when a config file has no `pause_reasons:` (API.md). */
export const DEFAULT_PAUSE_REASONS: PauseReasonSpec[] = [
  { code: 'break', label: 'Break', productive: false, max_minutes: 15 },
  { code: 'lunch', label: 'Lunch', productive: false, max_minutes: 60 },
  { code: 'meeting', label: 'Meeting', productive: true },
  { code: 'training', label: 'Training', productive: true },
  { code: 'not-responding', label: 'Not responding', productive: false },
];

export const ROLE_VALUES = ['agent', 'supervisor', 'admin'] as const;

export const userSchema = z.strictObject({
  login: loginSchema,
  name: z.string().min(1).max(200).optional(),
  email: z.string().email().optional(),
  roles: z.array(z.enum(ROLE_VALUES)).min(1, 'expected at least one role (agent, supervisor or admin)'),
  password: z.string().min(8, 'expected a password of at least 8 characters').optional(),
  skills: levelMapSchema.default({}),
  languages: languageMapSchema.default({}),
  capacity: z.number().int().min(1).max(100).default(3),
});

export const configFileSchema = z.strictObject({
  proxy: z.union([socks5UrlSchema, z.literal('none')]).optional(),
  senders: z.array(senderSchema).optional(),
  mailboxes: z.array(mailboxSchema).optional(),
  queues: z.array(queueSchema).optional(),
  pause_reasons: z.array(pauseReasonSchema).optional(),
  users: z.array(userSchema).optional(),
});

export type SenderSpec = z.output<typeof senderSchema>;
export type MailboxSpec = z.output<typeof mailboxSchema>;
export type QueueSpec = z.output<typeof queueSchema>;
export type RoutingSpec = z.output<typeof routingSchema>;
export type PauseReasonSpec = z.output<typeof pauseReasonSchema>;
export type UserSpec = z.output<typeof userSchema>;
export type TlsPolicySpec = z.output<typeof tlsPolicySchema>;
export type ConfigFile = z.output<typeof configFileSchema>;

/** The sections keyed by a name, in the order they are applied (references point backwards). */
export const SECTIONS = ['senders', 'queues', 'mailboxes', 'pause_reasons', 'users'] as const;
export type Section = (typeof SECTIONS)[number];
export const KEY_OF: Record<Section, 'name' | 'code' | 'login'> = {
  senders: 'name',
  queues: 'name',
  mailboxes: 'name',
  pause_reasons: 'code',
  users: 'login',
};
