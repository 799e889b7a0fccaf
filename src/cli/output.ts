/** How the CLI talks to people: plain lines, errors with their code, every detail and the hint. */
import { AppError, errorMessage } from '../domain/errors.js';

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export const stdio: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export function printError(o: Output, err: unknown): void {
  if (err instanceof AppError) {
    o.err(`Error (${err.code}): ${err.message}`);
    for (const d of err.details ?? []) o.err(`  ${d.path}: ${d.message}`);
    if (err.hint) o.err(`What to do: ${err.hint}`);
    return;
  }
  o.err(`Error: ${errorMessage(err)}`);
  o.err('What to do: run again with LOG_LEVEL=debug and report the output if it persists.');
}
