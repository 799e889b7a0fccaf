/** The layering of CONVENTIONS.md holds: the lint rule exists, catches a violation, and the code obeys it. */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

describe('architecture', () => {
  it.each([
    ['src/routing/probe.ts', "import { readFile } from 'node:fs/promises';\nexport const x = readFile;\n"],
    ['src/routing/probe.ts', "import { Store } from '../store/store.js';\nexport const x = Store;\n"],
    ['src/ingest/probe.ts', "import net from 'node:net';\nexport const x = net;\n"],
    ['src/ingest/probe.ts', "import { x as y } from '../connectors/imap/imap-source.js';\nexport const x = y;\n"],
    ['src/store/probe.ts', "import { ConfigService } from '../services/config.service.js';\nexport const x = ConfigService;\n"],
    ['src/services/probe.ts', "import { buildApp } from '../server/app.js';\nexport const x = buildApp;\n"],
  ])('reports a forbidden import in %s', async (filePath, code) => {
    const [result] = await eslint.lintText(code, { filePath });
    expect(result!.messages.map((m) => m.ruleId)).toContain('no-restricted-imports');
  });

  it('the code base has no lint errors', async () => {
    const results = await eslint.lintFiles(['src', 'test', 'bench', 'bin', 'scripts']);
    const errors = results.flatMap((r) => r.messages.filter((m) => m.severity === 2).map((m) => `${r.filePath}:${m.line} ${m.ruleId}: ${m.message}`));
    expect(errors).toEqual([]);
  });
});
