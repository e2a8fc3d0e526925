import { readFileSync } from 'node:fs';
import { Controller, Get, Header, NotFoundException, Param, Res } from '@nestjs/common';
import { OpenRoute } from '../auth/access.js';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';

/** The page's files, shipped as they are (no build step): `dashboard/` at the package root. */
const FILES_DIR = new URL('../../dashboard/', import.meta.url);
const ASSETS = new Map([
  ['dashboard.js', 'text/javascript; charset=utf-8'],
  ['dashboard.css', 'text/css; charset=utf-8'],
]);
/** Only the page's own script, styles and API calls: nothing inline, nothing from elsewhere. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * GET /dashboard: the delivery dashboard, served by the app itself. The page and its two files
 * need no API key (AppModule leaves them out); the page asks for the key and sends it with every
 * API call it makes.
 */
@ApiExcludeController()
@OpenRoute()
@Controller('dashboard')
export class DashboardController {
  private readonly files = new Map(
    ['index.html', ...ASSETS.keys()].map((name) => [
      name,
      readFileSync(new URL(name, FILES_DIR), 'utf8'),
    ]),
  );

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', CONTENT_SECURITY_POLICY)
  @Header('cache-control', 'no-cache')
  @Header('referrer-policy', 'no-referrer')
  @Header('x-content-type-options', 'nosniff')
  page(): string {
    return this.files.get('index.html')!;
  }

  @Get(':asset')
  @Header('cache-control', 'no-cache')
  @Header('x-content-type-options', 'nosniff')
  asset(@Param('asset') name: string, @Res({ passthrough: true }) response: FastifyReply): string {
    // A Map, not an object: names such as `constructor` or `__proto__` must find nothing.
    const type = ASSETS.get(name);
    if (!type) throw new NotFoundException(`No dashboard file ${name}`);
    response.type(type);
    return this.files.get(name)!;
  }
}
