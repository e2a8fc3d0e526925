/** How many extra headers an endpoint may carry. */
export const MAX_HEADERS = 20;
const MAX_URL_LENGTH = 2048;
const MAX_HEADER_VALUE_LENGTH = 4096;
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers stephook sets itself, or that belong to the connection rather than the request. */
const DENIED_HEADERS =
  /^(webhook-.*|content-.*|host|connection|keep-alive|transfer-encoding|te|trailer|upgrade|proxy-.*)$/i;

/** Why `value` cannot be an endpoint's URL, or null when it can. */
export function endpointUrlProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http or https';
  if (url.username || url.password) return 'must not carry credentials (user:password@)';
  return null;
}

/** Why `value` cannot be an endpoint's extra headers, or null when it can. */
export function headerProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'must be an object of header names to string values';
  const entries = Object.entries(value);
  if (entries.length > MAX_HEADERS) return `must hold at most ${MAX_HEADERS} headers`;
  for (const [name, headerValue] of entries) {
    if (!HEADER_NAME.test(name)) return `"${name}" is not a header name`;
    if (DENIED_HEADERS.test(name)) return `"${name}" is set by stephook or the connection`;
    if (typeof headerValue !== 'string') return `"${name}" must be a string`;
    if (headerValue.length > MAX_HEADER_VALUE_LENGTH)
      return `"${name}" must be at most ${MAX_HEADER_VALUE_LENGTH} characters`;
    if (/[\r\n\0]/.test(headerValue)) return `"${name}" must not contain line breaks`;
  }
  return null;
}
