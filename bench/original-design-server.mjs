// The original (Letta) design, for contrast, and only here: the terminal call commits, then awaits
// the webhook POST inline (a fresh client, 10 s timeout, errors swallowed) before it answers. It
// runs the same built app with stephook's own delivery off (STEP_COMPLETE_WEBHOOK empty).
//   PORT=… ORIGINAL_WEBHOOK_URL=http://… DATABASE_URL=sqlite:… node bench/original-design-server.mjs
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import axios from 'axios';
import { from, mergeMap } from 'rxjs';
import { AppModule } from '../dist/app.module.js';
import { APP_OPTIONS, createHttpAdapter, setUpApp } from '../dist/app.setup.js';
import { parseStephookConfig } from '../dist/config/stephook-config.js';

const url = process.env.ORIGINAL_WEBHOOK_URL;
const TERMINAL_ROUTE = /^\/v1\/steps\/[^/]+\/(success|error|cancel)$/;

class InlineWebhookInterceptor {
  intercept(context, next) {
    const request = context.switchToHttp().getRequest();
    // Fastify's request has no `path`: the URL without its query.
    if (!TERMINAL_ROUTE.test(request.url.split('?')[0])) return next.handle();
    return next.handle().pipe(
      mergeMap((step) =>
        from(
          axios.post(url, { step_id: step.id }, { timeout: 10_000, maxRedirects: 0 }).then(
            () => step,
            () => step,
          ),
        ),
      ),
    );
  }
}

const app = setUpApp(
  await NestFactory.create(
    AppModule.register({
      ...parseStephookConfig(process.env),
      delivery: { redisUrl: undefined, worker: true },
    }),
    createHttpAdapter(),
    { ...APP_OPTIONS, logger: ['error'] },
  ),
);
app.useGlobalInterceptors(new InlineWebhookInterceptor());
await app.listen(Number(process.env.PORT), '127.0.0.1');
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
