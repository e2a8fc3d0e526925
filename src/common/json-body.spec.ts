import fc from 'fast-check';
import { MAX_JSON_DEPTH, parseJsonBody } from './json-body.js';

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
