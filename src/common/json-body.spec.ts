import fc from 'fast-check';
import {
  MAX_JSON_DEPTH,
  MAX_KEYS_PER_OBJECT,
  parseJsonBody,
  RefusedJsonError,
} from './json-body.js';
import { CheckedPathPipe, refuseBadQuery } from './text-rules.js';

describe(parseJsonBody.name, () => {
  it('keeps integers past 2^53 exact, as decimal text, wherever they stand', () => {
    expect(
      parseJsonBody(
        '{"a":9223372036854775807,"b":[-9007199254740993],"c":{"d":12345678901234567890}}',
      ),
    ).toEqual({
      a: '9223372036854775807',
      b: ['-9007199254740993'],
      c: { d: '12345678901234567890' },
    });
  });

  it('leaves safe numbers, fractions, exponents and digits inside strings alone', () => {
    expect(
      parseJsonBody(
        '{"n":9007199254740991,"f":1.5e300,"s":"9223372036854775807","q":"a\\"9999999999999999"}',
      ),
    ).toEqual({
      n: 9007199254740991,
      f: 1.5e300,
      s: '9223372036854775807',
      q: 'a"9999999999999999',
    });
  });

  it('agrees with JSON.parse on any JSON without unsafe integers (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
        const text = JSON.stringify(value);
        const unsafe = /(?<![\d.eE"])-?\d{16,}(?![\d.eE])/.test(text);
        fc.pre(!unsafe);
        expect(parseJsonBody(text)).toEqual(JSON.parse(text));
      }),
      { numRuns: 500, seed: 42 },
    );
  });

  it(`refuses nesting past ${MAX_JSON_DEPTH} levels and prototype keys`, () => {
    expect(() =>
      parseJsonBody(`${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`),
    ).toThrow(RangeError);
    expect(() => parseJsonBody('{"a":{"__proto__":{"x":1}}}')).toThrow('"__proto__"');
    expect(() => parseJsonBody('{"a":')).toThrow(SyntaxError);
  });
});

describe('NUL characters (SPEC §9)', () => {
  it.each([
    ['{"agent_id":"a\\u0000b"}', 'agent_id must not contain NUL characters'],
    [
      '{"usage":{"prompt_tokens_details":{"x":"\\u0000"}}}',
      'usage.prompt_tokens_details.x must not contain NUL characters',
    ],
    ['{"tags":["a","b\\u0000"]}', 'tags[1] must not contain NUL characters'],
    ['{"filter":{"agent_ids":["\\u0000"]}}', 'filter.agent_ids[0] must not contain NUL'],
    ['{"headers":{"x\\u0000y":"v"}}', 'field name "x\\u0000y" in headers must not contain NUL'],
    ['{"a b":"\\u0000"}', '"a b" must not contain NUL characters'],
    ['{"\\u0000":1}', 'field name "\\u0000" must not contain NUL characters'],
  ])('refuses %s naming the field', (text, message) => {
    expect(() => parseJsonBody(text)).toThrow(RefusedJsonError);
    expect(() => parseJsonBody(text)).toThrow(message);
  });

  it('names where a prototype key stands, and accepts other control characters', () => {
    expect(() => parseJsonBody('{"headers":{"constructor":"x"}}')).toThrow(
      'field name "constructor" in headers is not allowed',
    );
    expect(parseJsonBody('{"a":"\\u0001\\u001f"}')).toEqual({ a: '\u0001\u001f' });
  });

  it('finds a NUL wherever fast-check puts it (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.nat(), (value, seed) => {
        const text = JSON.stringify({ v: value });
        fc.pre(!/"(__proto__|constructor|prototype)"/.test(text));
        const strings = [...text.matchAll(/"(?:[^"\\]|\\.)*"/g)];
        fc.pre(strings.length > 0);
        const target = strings[seed % strings.length];
        const at = target.index + 1;
        const poisoned = `${text.slice(0, at)}\\u0000${text.slice(at)}`;
        expect(() => parseJsonBody(poisoned)).toThrow('must not contain NUL characters');
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});

describe(`${parseJsonBody.name}: keys and Unicode`, () => {
  it('refuses a lone surrogate in any value or key, naming it, and keeps pairs', () => {
    expect(() => parseJsonBody('{"agent_id":"\\ud800"}')).toThrow(
      'agent_id must be well-formed Unicode',
    );
    expect(() => parseJsonBody('{"a":{"b":["x","\\udfffy"]}}')).toThrow(
      'a.b[1] must be well-formed Unicode',
    );
    expect(() => parseJsonBody('{"a":{"\\udc00":1}}')).toThrow(
      'field name "\\udc00" in a must be well-formed Unicode',
    );
    expect(parseJsonBody('{"a":"\\ud83d\\ude00"}')).toEqual({ a: '😀' });
  });

  it(`refuses an object with more than ${MAX_KEYS_PER_OBJECT} keys, naming it, at any depth`, () => {
    const many = (n: number) =>
      JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));
    expect(() => parseJsonBody(`{"error_details":{"x":${many(MAX_KEYS_PER_OBJECT + 1)}}}`)).toThrow(
      `error_details.x has ${MAX_KEYS_PER_OBJECT + 1} fields; at most ${MAX_KEYS_PER_OBJECT}`,
    );
    expect(() => parseJsonBody(many(MAX_KEYS_PER_OBJECT + 1))).toThrow(
      `Request body has ${MAX_KEYS_PER_OBJECT + 1} fields`,
    );
    expect(
      Object.keys(parseJsonBody(`{"a":${many(MAX_KEYS_PER_OBJECT)}}`) as { a: object }).length,
    ).toBe(1);
  });

  it('keeps keys named after Object.prototype members as own keys, at any depth', () => {
    const names = Object.getOwnPropertyNames(Object.prototype).filter(
      (name) => name !== '__proto__' && name !== 'constructor',
    );
    const inner = Object.fromEntries(names.map((name, i) => [name, i]));
    const body = JSON.stringify({ ...inner, nested: inner });
    expect(parseJsonBody(body)).toEqual(JSON.parse(body));
  });
});

describe(refuseBadQuery.name, () => {
  const refuse =
    (query: object, url = '/v1/steps') =>
    () =>
      refuseBadQuery(query, url);

  it('names the parameter, repeated or nested, and passes clean queries', () => {
    expect(refuse({ step_id: 'a\u0000b' })).toThrow(
      'query step_id must not contain NUL characters',
    );
    expect(refuse({ tags: ['a', '\u0000'] })).toThrow('query tags[1] must not');
    expect(refuse({ 'a\u0000': 'x' })).toThrow(
      'query parameter name "a\\u0000" must not contain NUL characters',
    );
    expect(
      refuse({ agent_id: 'a', tags: ['x', 'y'] }, '/v1/steps?agent_id=a&tags=x&tags=y'),
    ).not.toThrow();
  });

  it('refuses a lone surrogate in a value or a name, in the same walk', () => {
    expect(refuse({ agent_id: '\udfff' })).toThrow('query agent_id must be well-formed Unicode');
    expect(refuse({ tags: ['ok', 'a\ud800'] })).toThrow(
      'query tags[1] must be well-formed Unicode',
    );
    expect(refuse({ '\ud800': 'x' })).toThrow('query parameter name "\\ud800" must be well-formed');
    expect(refuse({ agent_id: '😀' })).not.toThrow();
  });

  it('refuses the parameters the query parser drops without a word, by name', () => {
    for (const name of ['__proto__', ...Object.getOwnPropertyNames(Object.prototype)]) {
      expect(refuse({}, `/v1/steps?${name}=x`)).toThrow(`query parameter ${name} is not allowed`);
    }
    expect(refuse({}, '/v1/steps?constructor[a]=x')).toThrow('constructor is not allowed');
    expect(refuse({}, '/v1/steps?%5F%5Fproto%5F%5F=x')).toThrow('__proto__ is not allowed');
  });

  it('refuses percent-escapes that are not UTF-8 (which the parser keeps as literal text)', () => {
    expect(refuse({}, '/v1/steps?agent_id=%ED%A0%80')).toThrow(
      'query "agent_id" is not valid UTF-8 once percent-decoded',
    );
    expect(refuse({}, '/v1/steps?a=%C0%80')).toThrow('not valid UTF-8');
    expect(refuse({}, '/v1/steps?agent_id=100%&tag=%F0%9F%98%80&x=%zz')).not.toThrow();
  });
});

describe(CheckedPathPipe.name, () => {
  const sut = new CheckedPathPipe();

  it('refuses a path parameter holding NUL or a lone surrogate by its name, and leaves the rest to other pipes', () => {
    expect(() => sut.transform('run\u0000', { type: 'param', data: 'run_id' })).toThrow(
      'path run_id must not contain NUL characters',
    );
    expect(() => sut.transform('run\ud800', { type: 'param', data: 'run_id' })).toThrow(
      'path run_id must be well-formed Unicode',
    );
    expect(sut.transform('run-1', { type: 'param', data: 'run_id' })).toBe('run-1');
    const body = { agent_id: '\u0000' };
    expect(sut.transform(body, { type: 'body' })).toBe(body);
  });
});
