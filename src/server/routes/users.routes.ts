/** `POST /users` (admin): an extension of API.md so `mailroom user add` works through a running server. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { authorize } from '../../auth/policy.js';
import type { Role } from '../../domain/types.js';
import { actorOf } from '../../services/auth.service.js';
import { requireAuth } from '../auth-hook.js';
import { presentMe } from '../presenters/user.presenter.js';
import type { RouteDeps } from '../route-deps.js';

const RoleSchema = Type.Union([Type.Literal('agent'), Type.Literal('supervisor'), Type.Literal('admin')]);
const AddUser = Type.Object(
  {
    login: Type.String({ minLength: 1, maxLength: 128 }),
    roles: Type.Array(RoleSchema, { minItems: 1, maxItems: 3 }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    email: Type.Optional(Type.String({ format: 'email' })),
    password: Type.Optional(Type.String({ minLength: 8, maxLength: 1000 })),
  },
  { additionalProperties: false },
);

export async function usersRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.post<{ Body: { login: string; roles: Role[]; name?: string; email?: string; password?: string } }>(
    '/api/v1/users',
    { schema: { tags: ['users'], body: AddUser } },
    async (request, reply) => {
      const auth = requireAuth(request);
      authorize(auth.principal, 'users.manage');
      const { user, generatedPassword } = await deps.users.addUser(actorOf(auth.principal), request.body);
      return reply.status(201).send({ user: presentMe(user), ...(generatedPassword ? { password: generatedPassword } : {}) });
    },
  );
}
