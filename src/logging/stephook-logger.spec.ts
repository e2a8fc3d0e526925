import { stripVTControlCharacters } from 'node:util';
import { jest } from '@jest/globals';
import { StephookLogger } from './stephook-logger.js';

describe(StephookLogger.name, () => {
  let written: string[];

  beforeEach(() => {
    written = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
  });

  afterEach(() => jest.restoreAllMocks());

  it('writes one JSON object per line with level, message, context, an ISO timestamp and structured fields', () => {
    const sut = new StephookLogger('debug', 'json');

    sut.log('delivered', { step_id: 'step-1' }, 'DeliveryDispatcher');
    sut.warn('slow', 'DeliveryDispatcher');
    sut.debug('nothing sent', 'DeliveryDispatcher');

    const lines = written.join('').trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records[0]).toMatchObject({
      level: 'info',
      message: 'delivered',
      context: 'DeliveryDispatcher',
      step_id: 'step-1',
    });
    expect(new Date(records[0].timestamp as string).toISOString()).toBe(records[0].timestamp);
    expect(records.map((record) => record.level)).toEqual(['info', 'warn', 'debug']);
  });

  it('writes a text line as the sentence alone, without the structured fields a JSON line carries', () => {
    new StephookLogger('info', 'text').log(
      'Webhook for step step-1 delivered: HTTP 204 in 3 ms',
      { step_id: 'step-1', status_code: 204 },
      'DeliveryDispatcher',
    );

    const line = stripVTControlCharacters(written.join(''));
    expect(line).toMatch(
      /\[DeliveryDispatcher\] Webhook for step step-1 delivered: HTTP 204 in 3 ms\n$/,
    );
    expect(line).not.toContain('status_code');
  });

  it('prints Nest’s module and route lines at debug, not at info', () => {
    const quiet = new StephookLogger('info', 'json');
    quiet.log('Mapped {/v1/steps, POST} route', 'RouterExplorer');
    quiet.log('StepsController {/v1/steps}:', 'RoutesResolver');
    quiet.log('TypeOrmModule dependencies initialized', 'InstanceLoader');
    quiet.log('Starting Nest application...', 'NestFactory');
    quiet.log('Nest application successfully started', 'NestApplication');
    expect(written).toEqual([]);

    new StephookLogger('debug', 'json').log('Mapped {/v1/steps, POST} route', 'RouterExplorer');
    expect(JSON.parse(written.join(''))).toMatchObject({
      level: 'debug',
      message: 'Mapped {/v1/steps, POST} route',
      context: 'RouterExplorer',
    });
  });

  it.each([
    ['error', ['error']],
    ['warn', ['warn', 'error']],
    ['info', ['info', 'warn', 'error']],
    ['debug', ['debug', 'info', 'warn', 'error']],
  ] as const)('prints only what LOG_LEVEL=%s allows', (level, expected) => {
    const sut = new StephookLogger(level, 'json');

    sut.debug('d');
    sut.log('i');
    sut.warn('w');
    sut.error('e');

    const levels = written
      .join('')
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { level: string }).level);
    expect(levels.sort()).toEqual([...expected].sort());
  });
});
