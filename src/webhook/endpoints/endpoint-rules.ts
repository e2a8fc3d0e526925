/**
 * What an endpoint's `url` and `headers` may be. Each rule is stated once here, as the patterns and
 * bounds the OpenAPI document publishes, so a validator driven by the document accepts exactly what
 * the server accepts. SPEC §9: what is accepted is exactly what is sent.
 */

/** How many extra headers an endpoint may carry. */
export const MAX_HEADERS = 20;
export const MAX_URL_LENGTH = 2048;
export const MAX_HEADER_NAME_LENGTH = 256;
export const MAX_HEADER_VALUE_LENGTH = 4096;

const DEC_OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const IPV4 = `(?:${DEC_OCTET}\\.){3}${DEC_OCTET}`;
const H16 = '[0-9A-Fa-f]{1,4}';
const LS32 = `(?:${H16}:${H16}|${IPV4})`;
/** RFC 3986 IPv6address: what the WHATWG URL parser accepts between brackets. */
const IPV6 = [
  `(?:${H16}:){6}${LS32}`,
  `::(?:${H16}:){5}${LS32}`,
  `(?:${H16})?::(?:${H16}:){4}${LS32}`,
  `(?:(?:${H16}:){0,1}${H16})?::(?:${H16}:){3}${LS32}`,
  `(?:(?:${H16}:){0,2}${H16})?::(?:${H16}:){2}${LS32}`,
  `(?:(?:${H16}:){0,3}${H16})?::${H16}:${LS32}`,
  `(?:(?:${H16}:){0,4}${H16})?::${LS32}`,
  `(?:(?:${H16}:){0,5}${H16})?::${H16}`,
  `(?:(?:${H16}:){0,6}${H16})?::`,
].join('|');
/**
 * A DNS name in ASCII. The last label starts with a letter (a numeric one makes the URL parser read
 * the host as IPv4), and no label is `xn--` punycode (the parser refuses malformed punycode, which
 * no pattern can tell apart).
 */
const LABEL = '(?![Xx][Nn]--)[A-Za-z0-9_-]+';
const LAST_LABEL = '(?![Xx][Nn]--)[A-Za-z][A-Za-z0-9_-]*';
const DOMAIN = `(?:${LABEL}\\.)*${LAST_LABEL}\\.?`;
/** 1 to 65535 without leading zeros (port 0 can never be connected to). */
const PORT =
  '(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))';
/** RFC 3986 pchar: what a path segment or query holds without change by the parser. */
const PCHAR = "(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})";
/** No fragment: it is never sent, and what is accepted is what is sent. */
const PATH_QUERY = `(?:/(?:${PCHAR}|/)*)?(?:\\?(?:${PCHAR}|[/?])*)?`;
/**
 * `http://` or `https://`, a host (DNS name, IPv4 or [IPv6]) with an optional port, then an optional
 * RFC 3986 path and query (other characters percent-encoded; no fragment). No credentials (the
 * authority has no `@`), no spaces, nothing past ASCII.
 */
export const ENDPOINT_URL_PATTERN = `^https?://(?:${DOMAIN}|${IPV4}|\\[(?:${IPV6})\\])${PORT}?${PATH_QUERY}$`;
const ENDPOINT_URL = new RegExp(ENDPOINT_URL_PATTERN);

/** An HTTP header name (RFC 9110 token). */
export const HEADER_NAME_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
/**
 * A header value HTTP carries unchanged: visible ASCII, with spaces and tabs only between visible
 * characters (a receiver strips them at either end; anything past ASCII is read as Latin-1 by some
 * and UTF-8 by others; control characters and line breaks are refused by HTTP itself).
 */
export const HEADER_VALUE_PATTERN = '^[!-~](?:[\\t -~]*[!-~])?$';
const HEADER_NAME = new RegExp(HEADER_NAME_PATTERN);
const HEADER_VALUE = new RegExp(HEADER_VALUE_PATTERN);

/**
 * Headers stephook sets itself (the contract's, its user-agent and trace context), or that belong to
 * the connection rather than the request (hop-by-hop, `expect`, which would make the request wait
 * for a 100 Continue).
 */
export const RESERVED_HEADERS =
  /^(webhook-.*|content-.*|host|user-agent|traceparent|tracestate|connection|keep-alive|transfer-encoding|te|trailer|upgrade|expect|http2-settings|proxy-.*)$/i;
export const RESERVED_HEADERS_TEXT =
  'webhook-*, content-*, host, user-agent, traceparent, tracestate, expect and hop-by-hop ' +
  'headers (connection, keep-alive, transfer-encoding, te, trailer, upgrade, http2-settings, ' +
  'proxy-*)';

/** Why `value` cannot be an endpoint's URL, or null when it can. */
export function endpointUrlProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters`;
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    // Told below, with the pattern's wording.
  }
  if (url && url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http or https';
  if (url && (url.username || url.password)) return 'must not carry credentials (user:password@)';
  if (!url || !ENDPOINT_URL.test(value)) {
    return (
      'must be an absolute http or https URL: lower-case http:// or https://, a host name, IPv4 or ' +
      '[IPv6] address, an optional port (1-65535), then a path and query in printable ASCII ' +
      'without spaces (no #fragment)'
    );
  }
  return null;
}

/** Why `value` cannot be an endpoint's extra headers, or null when it can. */
export function headerProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'must be an object of header names to string values';
  const entries = Object.entries(value);
  if (entries.length > MAX_HEADERS) return `must hold at most ${MAX_HEADERS} headers`;
  const seen = new Map<string, string>();
  for (const [name, headerValue] of entries) {
    const shown = JSON.stringify(name);
    if (name.length > MAX_HEADER_NAME_LENGTH)
      return `${shown.slice(0, 40)}… is longer than ${MAX_HEADER_NAME_LENGTH} characters`;
    if (!HEADER_NAME.test(name))
      return `${shown} is not a header name (letters, digits and !#$%&'*+-.^_\`|~ only)`;
    if (RESERVED_HEADERS.test(name)) return `${shown} is set by stephook or the connection`;
    const twin = seen.get(name.toLowerCase());
    if (twin !== undefined)
      return `${JSON.stringify(twin)} and ${shown} name the same header (names ignore case)`;
    seen.set(name.toLowerCase(), name);
    if (typeof headerValue !== 'string') return `${shown} must be a string`;
    if (headerValue.length > MAX_HEADER_VALUE_LENGTH)
      return `${shown} must be at most ${MAX_HEADER_VALUE_LENGTH} characters`;
    if (/[\r\n]/.test(headerValue)) return `${shown} must not contain line breaks`;
    if (!HEADER_VALUE.test(headerValue)) {
      return (
        `${shown} must be 1 to ${MAX_HEADER_VALUE_LENGTH} printable ASCII characters, with spaces ` +
        'or tabs only between them (HTTP cannot carry anything else unchanged)'
      );
    }
  }
  return null;
}
