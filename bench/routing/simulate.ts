/**
 * Try a routing policy on a simulated contact center:
 *
 *   npx tsx bench/routing/simulate.ts --scenario M --utilisation 0.85 --policy least-busy
 *
 * Options: --scenario S|M|L|XL|all (default all), --utilisation 0.7|0.85|… or "all" (0.7, 0.85,
 * 0.95 and a 1.1 burst; default all), --burst RHO (middle third at RHO), --policy NAME (default:
 * each queue's own), --seed N (default 1), --quick (shorter runs), --json.
 */
import { SCENARIO_NAMES, buildScenario, type ScenarioName } from './sim-scenarios.js';
import { LOAD_LEVELS, formatTable, runMatrix } from './sim-table.js';
import type { RoutingPolicy } from '../../src/routing/routing-types.js';

const POLICIES = ['longest-idle', 'least-busy', 'most-skilled', 'least-skilled', 'round-robin'];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function fail(message: string): never {
  console.error(`${message}\nUsage: npx tsx bench/routing/simulate.ts [--scenario S|M|L|XL|all] [--utilisation RHO|all] [--burst RHO] [--policy ${POLICIES.join('|')}] [--seed N] [--quick] [--json]`);
  process.exit(2);
}

const scenarioArg = (arg('scenario') ?? 'all').toUpperCase();
const scenarios = scenarioArg === 'ALL' ? [...SCENARIO_NAMES] : [scenarioArg as ScenarioName];
if (!scenarios.every((s) => (SCENARIO_NAMES as readonly string[]).includes(s))) fail(`Unknown scenario ${scenarioArg}.`);
const policy = arg('policy') as RoutingPolicy | undefined;
if (policy && !POLICIES.includes(policy)) fail(`Unknown policy ${policy}.`);
const seed = Number(arg('seed') ?? 1);
if (!Number.isInteger(seed)) fail('--seed takes an integer.');
const utilArg = arg('utilisation') ?? 'all';
const burstArg = arg('burst');
const loads =
  utilArg === 'all' && burstArg === undefined
    ? LOAD_LEVELS
    : [{ utilisation: Number(utilArg === 'all' ? 0.85 : utilArg), ...(burstArg !== undefined ? { burst: Number(burstArg) } : {}) }];
if (loads.some((l) => !(l.utilisation > 0) || (l.burst !== undefined && !(l.burst > 0)))) fail('--utilisation and --burst take positive numbers.');

const rows = runMatrix(
  scenarios.map((name) => buildScenario(name, { seed, quick: process.argv.includes('--quick'), ...(policy ? { policy } : {}) })),
  loads,
  seed,
  (line) => console.error(line),
);
console.log(process.argv.includes('--json') ? JSON.stringify(rows, null, 2) : formatTable(rows));
