import { parseAppConfig } from './app.config.js';

describe(parseAppConfig.name, () => {
  it('listens on 127.0.0.1:3000 by default', () => {
    expect(parseAppConfig({})).toMatchObject({ host: '127.0.0.1', port: 3000 });
  });

  it.each([
    '127.0.0.1',
    '0.0.0.0',
    '::',
    '::1',
    'fe80::1%eth0',
    '::ffff:10.0.0.1',
    'localhost',
    'stephook.internal',
    'api-1.example.com',
    'example.com.',
  ])('accepts HOST=%s', (host) => {
    expect(parseAppConfig({ HOST: host }).host).toBe(host);
  });

  it.each([
    'bad host',
    'http://localhost',
    'localhost:3000',
    '[::1]',
    '256.0.0.1',
    '127.0.0',
    '-api.example.com',
    'api_1.example.com',
    'exa..mple.com',
    `${'a'.repeat(64)}.com`,
  ])('refuses HOST=%s with one line naming HOST', (host) => {
    expect(() => parseAppConfig({ HOST: host })).toThrow(
      `HOST must be an IPv4 or IPv6 address or a host name (such as 127.0.0.1, 0.0.0.0, :: or localhost), got "${host}"`,
    );
  });
});
