// Runs the agent's own health checks once, where it is started (inside a lab host), and prints their results as JSON.
import { z } from 'zod';
import { HealthCheckSchema } from '../../agent/config.js';
import { runChecks } from '../../agent/adapters/health-checks.js';

const checks = z.array(HealthCheckSchema).parse(JSON.parse(process.argv[2] ?? '[]'));
const results = await runChecks(checks, { controllerAccepts: async () => ({ ok: false, detail: 'no controller in a probe' }) });
process.stdout.write(`${JSON.stringify(results)}\n`);
