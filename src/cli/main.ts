/** `mailroom COMMAND`: the command line (API.md "CLI"). Every command has --help. */
import { Command, CommanderError } from 'commander';
import { packageInfo } from '../package-info.js';
import { configApplyCommand, configExportCommand } from './config.command.js';
import { doctorCommand } from './doctor.command.js';
import { migrateCommand } from './migrate.command.js';
import { purgeCommand } from './purge.command.js';
import { printError, stdio, type Output } from './output.js';
import { startCommand } from './start.command.js';
import { tokenCreateCommand, userAddCommand } from './user.command.js';

const collect = (value: string, previous: string[]) => [...previous, value];

export function buildProgram(env: NodeJS.ProcessEnv, o: Output): Command {
  const program = new Command('mailroom')
    .description('Mailroom: the email ACD for contact centers.\nSettings come from the environment (PORT, HOST, MAILROOM_DATA, DATABASE_URL, MAILROOM_SECRET_KEY, …; see the README).')
    .version(packageInfo().version)
    .showHelpAfterError('(run with --help for usage)');

  program.command('start').description('start the server (embedded database unless DATABASE_URL is set)').action(() => startCommand(env, o));
  program.command('migrate').description('run the database migrations, then exit').action(() => migrateCommand(env, o));
  program
    .command('doctor')
    .description('test every mailbox and sender step by step; exits 1 when one fails')
    .action(async () => {
      const code = await doctorCommand(env, o);
      if (code !== 0) throw new CommanderError(code, 'mailroom.doctor', 'a connection test failed');
    });

  program
    .command('purge')
    .option('--dry-run', 'only count what would be purged')
    .description('purge handled conversations older than their queue\'s retention_days')
    .action((opts: { dryRun?: boolean }) => purgeCommand(env, o, opts));

  const config = program.command('config').description('config as code: apply or export the YAML file');
  config
    .command('apply')
    .argument('<file>', 'the YAML (or JSON) file, or - for standard input')
    .option('--prune', 'delete what the file no longer names')
    .option('--dry-run', 'show what would change and apply nothing')
    .description('apply a config file atomically (all or nothing)')
    .action((file: string, opts: { prune?: boolean; dryRun?: boolean }) => configApplyCommand(env, o, file, opts));
  config.command('export').description('print the stored config as YAML, secrets as "********"').action(() => configExportCommand(env, o));

  const user = program.command('user').description('manage users');
  user
    .command('add')
    .argument('<login>', 'the new user\'s login')
    .requiredOption('--role <role>', 'agent, supervisor or admin (repeat for several)', collect, [])
    .option('--password-stdin', 'read the password from standard input (else one is generated and shown once)')
    .option('--name <name>', 'display name (default: the login)')
    .option('--email <email>', 'email address')
    .description('add a user')
    .action((login: string, opts: { role: string[]; passwordStdin?: boolean; name?: string; email?: string }) => userAddCommand(env, o, login, opts));

  const token = program.command('token').description('manage API tokens');
  token
    .command('create')
    .requiredOption('--user <login>', 'the user the token acts as')
    .option('--name <name>', 'a label for the token')
    .description('create an API token (shown once)')
    .action((opts: { user: string; name?: string }) => tokenCreateCommand(env, o, opts));

  return program;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, o: Output = stdio): Promise<number> {
  const program = buildProgram(env, o).exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.code === 'mailroom.doctor' ? err.exitCode : err.exitCode === 0 ? 0 : 2;
    printError(o, err);
    return 1;
  }
}
