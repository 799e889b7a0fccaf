/**
 * `GET /image-proxy?url=…` (any user): a remote image an agent asked to see, fetched by the
 * server with the SSRF guard of safe-fetch, only real raster images, served so the browser can
 * never treat it as a page (nosniff, sandbox CSP).
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { safeFetch, type SafeFetchOptions } from '../../connectors/net/safe-fetch.js';
import { AppError } from '../../domain/errors.js';
import { requireAuth } from '../auth-hook.js';
import type { RouteDeps } from '../route-deps.js';

const IMAGE_TYPES = /^image\/(png|jpeg|gif|webp|avif|bmp|x-icon|vnd\.microsoft\.icon)$/;

export function imageProxyRoutes(fetchOptions: Partial<SafeFetchOptions> = {}) {
  const opts: SafeFetchOptions = { maxBytes: 10 * 1024 * 1024, timeoutMs: 10_000, maxRedirects: 3, ...fetchOptions };
  return async function routes(app: FastifyInstance, _deps: RouteDeps): Promise<void> {
    app.get<{ Querystring: { url: string } }>(
      '/api/v1/image-proxy',
      { schema: { tags: ['conversations'], querystring: Type.Object({ url: Type.String({ minLength: 1, maxLength: 4096 }) }) } },
      async (request, reply) => {
        requireAuth(request);
        const fetched = await safeFetch(request.query.url, opts);
        const type = fetched.contentType.split(';')[0]!.trim().toLowerCase();
        if (fetched.status !== 200) throw new AppError('IMAGE_FETCH_FAILED', `The image host answered ${fetched.status}`, { status: 502, hint: 'The image is gone or the link is broken.' });
        // SVG can carry script; only raster images are passed on.
        if (!IMAGE_TYPES.test(type)) throw new AppError('NOT_AN_IMAGE', `That is not an image we show (${type || 'no type'})`, { status: 415, hint: 'Only PNG, JPEG, GIF, WebP, AVIF, BMP and ICO are shown.' });
        reply.header('content-type', type);
        reply.header('x-content-type-options', 'nosniff');
        reply.header('content-security-policy', "default-src 'none'; sandbox");
        reply.header('cache-control', 'private, max-age=3600');
        return reply.send(fetched.body);
      },
    );
  };
}
