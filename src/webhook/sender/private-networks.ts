import { lookup as dnsLookup, LookupAddress, LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** The ranges an endpoint created through the API may not reach (SPEC §9 "Private networks"). */
const RULES: { rule: string; ranges: [string, number, 'ipv4' | 'ipv6'][] }[] = [
  {
    rule: 'loopback',
    ranges: [
      ['127.0.0.0', 8, 'ipv4'],
      ['::1', 128, 'ipv6'],
    ],
  },
  {
    rule: 'private',
    ranges: [
      ['10.0.0.0', 8, 'ipv4'],
      ['172.16.0.0', 12, 'ipv4'],
      ['192.168.0.0', 16, 'ipv4'],
      ['fc00::', 7, 'ipv6'],
    ],
  },
  {
    rule: 'link-local',
    ranges: [
      ['169.254.0.0', 16, 'ipv4'],
      ['fe80::', 10, 'ipv6'],
    ],
  },
  {
    rule: 'unspecified',
    ranges: [
      ['0.0.0.0', 8, 'ipv4'],
      ['::', 128, 'ipv6'],
    ],
  },
];
const LISTS = RULES.map(({ rule, ranges }) => {
  const list = new BlockList();
  for (const [address, prefix, type] of ranges) list.addSubnet(address, prefix, type);
  return { rule, list };
});

/** The address an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) stands for, or itself. */
function unmapped(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}

/**
 * Which rule forbids connecting to `address` (loopback, private, link-local or unspecified), or
 * null when it is public or `allowed` opens its range.
 */
export function forbiddenRule(address: string, allowed: BlockList): string | null {
  const plain = unmapped(address);
  const type = isIP(plain) === 6 ? 'ipv6' : 'ipv4';
  if (allowed.check(plain, type)) return null;
  return LISTS.find(({ list }) => list.check(plain, type))?.rule ?? null;
}

export class PrivateNetworkError extends Error {
  readonly code = 'EPRIVATENETWORK';
  constructor(address: string, rule: string) {
    super(
      `refused to connect to ${address}: a ${rule} address, which endpoints created through the ` +
        'API may not reach (STEP_COMPLETE_ALLOWED_NETWORKS opens a range)',
    );
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;
export type Lookup = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

/**
 * A `lookup` for the agents of API endpoints: resolves as usual, then refuses the connection when
 * an address it would connect to is forbidden. The check is on the answer the socket uses, so a
 * DNS answer that changes between a check and the connection cannot get around it.
 */
export function guardedLookup(allowed: BlockList, resolve: Lookup = dnsLookup): Lookup {
  return (hostname, options, callback) => {
    resolve(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family);
      const addresses = Array.isArray(address) ? address.map((entry) => entry.address) : [address];
      for (const candidate of addresses) {
        const rule = forbiddenRule(candidate, allowed);
        if (rule) return callback(new PrivateNetworkError(candidate, rule), address, family);
      }
      callback(null, address, family);
    });
  };
}
