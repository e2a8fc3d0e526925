import fc from 'fast-check';
import { MAX_JSON_DEPTH, parseJsonBody, RefusedJsonError } from './json-body.js';
import { NoNulPathPipe, refuseNulInQuery } from './nul-characters.js';

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

describe(refuseNulInQuery.name, () => {
  it('names the parameter, repeated or nested, and passes clean queries', () => {
    expect(() => refuseNulInQuery({ step_id: 'a\u0000b' })).toThrow(
      'query step_id must not contain NUL characters',
    );
    expect(() => refuseNulInQuery({ tags: ['a', '\u0000'] })).toThrow('query tags[1] must not');
    expect(() => refuseNulInQuery({ 'a\u0000': 'x' })).toThrow(
      'query parameter name "a\\u0000" must not contain NUL characters',
    );
    expect(() => refuseNulInQuery({ agent_id: 'a', tags: ['x', 'y'] })).not.toThrow();
  });
});

describe(NoNulPathPipe.name, () => {
  const sut = new NoNulPathPipe();

  it('refuses a path parameter holding NUL by its name, and leaves the rest to other pipes', () => {
    expect(() => sut.transform('run\u0000', { type: 'param', data: 'run_id' })).toThrow(
      'path run_id must not contain NUL characters',
    );
    expect(sut.transform('run-1', { type: 'param', data: 'run_id' })).toBe('run-1');
    const body = { agent_id: '\u0000' };
    expect(sut.transform(body, { type: 'body' })).toBe(body);
  });
});
