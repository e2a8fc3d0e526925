import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import {
  ENDPOINT_URL_PATTERN,
  HEADER_VALUE_PATTERN,
  MAX_HEADER_VALUE_LENGTH,
  endpointUrlProblem,
  headerProblem,
} from './endpoint-rules.js';

// ajv-formats is CommonJS: under ESM its plugin is the `default` of what the import gives.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv }).default;
const ajv = addFormats(new Ajv());
/** The url schema as the OpenAPI document states it: what a validating proxy enforces. */
const documentAccepts = ajv.compile({
  type: 'string',
  format: 'uri',
  maxLength: 2048,
  pattern: ENDPOINT_URL_PATTERN,
});

describe(endpointUrlProblem.name, () => {
  it.each([
    'https://billing.example.com/hooks/steps',
    'http://127.0.0.1:8080/hook?team=a&x=%20',
    'https://[2001:db8::1]:443/x',
    'https://[::ffff:192.0.2.1]/',
    'https://localhost',
    'https://a_b.example./p',
    'https://example.com:65535',
  ])('accepts %s, as the document does', (url) => {
    expect(endpointUrlProblem(url)).toBeNull();
    expect(documentAccepts(url)).toBe(true);
  });

  it.each([
    ['日本語', 'absolute http'],
    ['https://日本.jp/', 'absolute http'],
    ['https://xn--a.com/', 'absolute http'],
    ['https://a.0x1/', 'absolute http'],
    ['https://1.2.3.999/', 'absolute http'],
    ['https://example.com:65536/', 'absolute http'],
    ['https://example.com:0/', 'absolute http'],
    ['https://example.com:080/', 'absolute http'],
    ['https://example.com/hook#frag', 'no #fragment'],
    ['HTTPS://example.com/', 'absolute http'],
    ['https://example.com/a b', 'absolute http'],
    ['https://example.com/a\\b', 'absolute http'],
    ['https://[::1/', 'absolute http'],
    ['ftp://example.com/', 'http or https'],
    ['https://u:p@example.com/', 'credentials'],
  ])('refuses %s (%s), as the document does', (url, says) => {
    expect(endpointUrlProblem(url)).toContain(says);
    expect(documentAccepts(url)).toBe(false);
  });

  it('refuses a URL over 2048 characters, as the document does', () => {
    const url = `https://example.com/${'a'.repeat(2048)}`;
    expect(endpointUrlProblem(url)).toContain('2048');
    expect(documentAccepts(url)).toBe(false);
  });

  it('accepts every URL the document accepts, and the document every one it accepts (property)', () => {
    const piece = fc.constantFrom(
      ...'aZ09-_.~:@/?#[]%!$&\'()*+,;=`"<>{}|^\\ \t\u0000é日'.split(''),
      'xn--',
      '%41',
      '%zz',
      '::',
      '255',
      '256',
      '65536',
      'localhost',
      '127.0.0.1',
      '[::1]',
      'user:pass@',
    );
    const url = fc
      .tuple(
        fc.constantFrom('https://', 'http://', 'HTTP://', 'ftp://', ''),
        fc.array(piece, { maxLength: 12 }),
      )
      .map(([scheme, pieces]) => scheme + pieces.join(''));
    fc.assert(
      fc.property(url, (candidate) => {
        const server = endpointUrlProblem(candidate) === null;
        expect({ candidate, document: documentAccepts(candidate) }).toEqual({
          candidate,
          document: server,
        });
      }),
      { numRuns: 20_000, seed: 20261206 },
    );
  });
});

describe(headerProblem.name, () => {
  const value = new RegExp(HEADER_VALUE_PATTERN);

  it('accepts tokens and printable ASCII, spaces and tabs between', () => {
    expect(
      headerProblem({
        authorization: 'Bearer a',
        'X-Team': 'a \t b',
        tostring: '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
        get: 'x',
        'x-long': 'v'.repeat(MAX_HEADER_VALUE_LENGTH),
      }),
    ).toBeNull();
  });

  it.each([
    [{ 'user-agent': 'x' }, '"user-agent" is set by stephook'],
    [{ 'User-Agent': 'x' }, '"User-Agent" is set by stephook'],
    [{ traceparent: 'x' }, 'set by stephook'],
    [{ Expect: '100-continue' }, 'set by stephook'],
    [{ 'content-type': 'x' }, 'set by stephook'],
    [{ 'webhook-id': 'x' }, 'set by stephook'],
    [{ 'a b': 'x' }, 'not a header name'],
    [{ 'x:y': 'x' }, 'not a header name'],
    [{ '': 'x' }, 'not a header name'],
    [{ 'x-é': 'x' }, 'not a header name'],
    [{ 'X-A': '1', 'x-a': '2' }, '"X-A" and "x-a" name the same header'],
    [{ x: '€uro' }, '"x" must be 1 to 4096 printable ASCII'],
    [{ x: '日本' }, 'printable ASCII'],
    [{ x: 'caf\u00e9' }, 'printable ASCII'],
    [{ x: 'a\u0001b' }, 'printable ASCII'],
    [{ x: 'a\r\nb' }, '"x" must not contain line breaks'],
    [{ x: 'a\u007fb' }, 'printable ASCII'],
    [{ x: ' lead' }, 'printable ASCII'],
    [{ x: 'trail\t' }, 'printable ASCII'],
    [{ x: '' }, 'printable ASCII'],
    [{ x: 'v'.repeat(MAX_HEADER_VALUE_LENGTH + 1) }, 'at most 4096'],
    [{ x: 1 }, '"x" must be a string'],
    [Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x-${i}`, 'v'])), 'at most 20'],
    [['x'], 'must be an object'],
  ])('refuses %j: %s', (headers, says) => {
    expect(headerProblem(headers)).toContain(says);
  });

  it('refuses a name over 256 characters', () => {
    expect(headerProblem({ ['n'.repeat(257)]: 'x' })).toContain('longer than 256');
  });

  it('states the value rule as a pattern that agrees with the check (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 12 }), (candidate) => {
        expect(headerProblem({ x: candidate }) === null).toBe(value.test(candidate));
      }),
      { numRuns: 5_000, seed: 7 },
    );
  });
});
