/**
 * Settings from the environment (API.md "Starting"), parsed once at start. The rest of the code
 * receives a typed `Settings` object and never reads `process.env` itself.
 */
import path from 'node:path';
import { z } from 'zod';
import { AppError } from '../domain/errors.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  MAILROOM_DATA: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL')
    .optional(),
  MAILROOM_SECRET_KEY: z.string().min(1).optional(),
  MAILROOM_ADMIN_LOGIN: z.string().min(1).default('admin'),
  MAILROOM_ADMIN_PASSWORD: z.string().min(1).optional(),
  MAILROOM_CONFIG: z.string().min(1).optional(),
  MAILROOM_PUBLIC_URL: z.string().url().optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

export interface Settings {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  secretKey: string | undefined;
  adminLogin: string;
  adminPassword: string | undefined;
  configFile: string | undefined;
  publicUrl: string;
  logLevel: (typeof LOG_LEVELS)[number];
}

/** Parses the environment; every problem is reported with the variable's name. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): Settings {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k in envSchema.shape && v !== undefined && v !== ''),
  );
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => ({
      path: i.path.join('.'),
      message: i.message,
    }));
    throw new AppError(
      'SETTINGS_INVALID',
      `Invalid environment: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`,
      { hint: 'Fix the environment variables named above (see README, "Settings").', details },
    );
  }
  const e = parsed.data;
  const publicHost = e.HOST === '0.0.0.0' || e.HOST === '::' ? '127.0.0.1' : e.HOST;
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: path.resolve(e.MAILROOM_DATA),
    databaseUrl: e.DATABASE_URL,
    secretKey: e.MAILROOM_SECRET_KEY,
    adminLogin: e.MAILROOM_ADMIN_LOGIN,
    adminPassword: e.MAILROOM_ADMIN_PASSWORD,
    configFile: e.MAILROOM_CONFIG,
    publicUrl: (e.MAILROOM_PUBLIC_URL ?? `http://${publicHost}:${e.PORT}`).replace(/\/$/, ''),
    logLevel: e.LOG_LEVEL,
  };
}
