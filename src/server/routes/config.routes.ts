/** Config as code over HTTP: `GET /config` exports (YAML or JSON), `PUT /config` applies. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { authorize } from '../../auth/policy.js';
import { actorOf } from '../../services/auth.service.js';
import { requireAuth } from '../auth-hook.js';
import type { RouteDeps } from '../route-deps.js';

export const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'];

const ApplyQuery = Type.Object({ prune: Type.Optional(Type.Boolean()), dryRun: Type.Optional(Type.Boolean()) }, { additionalProperties: false });

export async function configRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.get('/api/v1/config', { schema: { tags: ['config'] } }, async (request, reply) => {
    const auth = requireAuth(request);
    authorize(auth.principal, 'config.read');
    const accept = request.headers.accept ?? '';
    if (YAML_TYPES.some((t) => accept.includes(t))) {
      reply.type('application/yaml; charset=utf-8');
      return deps.config.exportYaml();
    }
    return deps.config.export();
  });

  app.put<{ Querystring: { prune?: boolean; dryRun?: boolean }; Body: unknown }>(
    '/api/v1/config',
    { schema: { tags: ['config'], querystring: ApplyQuery }, bodyLimit: 10 * 1024 * 1024 },
    async (request) => {
      const auth = requireAuth(request);
      authorize(auth.principal, 'config.apply');
      try {
        const result = await deps.config.apply(request.body, actorOf(auth.principal), { prune: request.query.prune ?? false, dryRun: request.query.dryRun ?? false });
        deps.metrics.configApplies.inc({ result: result.dryRun ? 'dry-run' : 'applied' });
        return result;
      } catch (err) {
        deps.metrics.configApplies.inc({ result: 'refused' });
        throw err;
      }
    },
  );
}
