/**
 * The Fastify application: plugins (cookies, security headers, WebSocket, OpenAPI), the auth
 * hook, error mapping, routes, and the built web app at `/`. Built from explicit dependencies,
 * so tests build it the same way the server does.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifyHelmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { registerAuthHook } from './auth-hook.js';
import { registerErrorHandling, registerNotFound } from './error-handler.js';
import type { RouteDeps } from './route-deps.js';
import { configRoutes, YAML_TYPES } from './routes/config.routes.js';
import { conversationsRoutes } from './routes/conversations.routes.js';
import { diagnosticsRoutes } from './routes/diagnostics.routes.js';
import { directoryRoutes } from './routes/directory.routes.js';
import { eventsRoutes } from './routes/events.routes.js';
import { healthRoutes } from './routes/health.routes.js';
import { imageProxyRoutes } from './routes/image-proxy.routes.js';
import { meRoutes } from './routes/me.routes.js';
import { pauseReasonsRoutes } from './routes/pause-reasons.routes.js';
import { quarantineRoutes, retentionRoutes } from './routes/quarantine.routes.js';
import { sessionRoutes } from './routes/session.routes.js';
import { usersRoutes } from './routes/users.routes.js';
import { ErrorSchema } from './schemas.js';

export interface AppOptions {
  logger: Logger;
  /** The built web app (index.html and assets); absent in API-only tests. */
  webRoot?: string | undefined;
  /** Extra route plugins (later features register theirs here). */
  plugins?: ((app: FastifyInstance, deps: RouteDeps) => Promise<void>)[];
  /** Image proxy limits and address policy (tests reach loopback servers through it). */
  imageProxy?: Parameters<typeof imageProxyRoutes>[0];
}

export async function buildApp(deps: RouteDeps, opts: AppOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    trustProxy: 'loopback',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
    return503OnClosing: true,
  });

  registerErrorHandling(app);
  await app.register(fastifyCookie);
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'", 'data:'],
        frameSrc: ["'self'"],
        frameAncestors: ["'none'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
      },
    },
    // Mailroom often runs on plain http on a LAN: no HSTS or upgrade unless the operator's proxy adds them.
    strictTransportSecurity: false,
    crossOriginEmbedderPolicy: false,
  });
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Mailroom API', version: deps.version, description: 'The public contract of Mailroom (see API.md).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, cookie: { type: 'apiKey', in: 'cookie', name: 'mailroom_session' } } },
      security: [{ bearer: [] }, { cookie: [] }],
    },
  });
  app.addSchema(ErrorSchema);

  for (const type of YAML_TYPES) {
    app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: 10 * 1024 * 1024 }, (_req, body, done) => done(null, body));
  }

  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.httpRequests.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  registerAuthHook(app, deps.auth);

  for (const plugin of [healthRoutes, sessionRoutes, meRoutes, configRoutes, directoryRoutes, usersRoutes, conversationsRoutes, diagnosticsRoutes, quarantineRoutes, retentionRoutes, pauseReasonsRoutes, imageProxyRoutes(opts.imageProxy), eventsRoutes, ...(opts.plugins ?? [])]) {
    await plugin(app, deps);
  }
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const serveWeb = Boolean(opts.webRoot && existsSync(path.join(opts.webRoot, 'index.html')));
  if (serveWeb) await app.register(fastifyStatic, { root: opts.webRoot!, wildcard: false, index: 'index.html' });
  registerNotFound(app, serveWeb);
  return app;
}
