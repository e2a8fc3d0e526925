import { lookup as dnsLookup, LookupAddress, LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** Why an address is refused; the attempt's `network_error` names it. */
export type NetworkRule =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'shared'
  | 'benchmarking'
  | 'documentation'
  | 'reserved'
  | 'multicast'
  | 'broadcast'
  | 'site-local'
  | 'discard'
  | 'nat64-local';

interface Block {
  base: bigint;
  prefix: number;
  /** null: a globally reachable exception inside a refused block. */
  rule: NetworkRule | null;
}

function block(cidr: string, rule: NetworkRule | null): Block {
  const [address, prefix] = cidr.split('/');
  return { base: addressValue(address), prefix: Number(prefix), rule };
}

/**
 * The IANA IPv4 Special-Purpose Address Registry: every block not globally reachable, plus
 * multicast (224.0.0.0/4) and the limited broadcast address. The longest matching prefix wins,
 * so an exception the registry marks globally reachable (rule null) opens its address again.
 * AS112 (192.31.196.0/24, 192.175.48.0/24) and AMT (192.52.193.0/24) lie outside every refused
 * block and need no entry.
 */
const IPV4_BLOCKS: Block[] = [
  block('0.0.0.0/8', 'unspecified'),
  block('10.0.0.0/8', 'private'),
  block('100.64.0.0/10', 'shared'),
  block('127.0.0.0/8', 'loopback'),
  block('169.254.0.0/16', 'link-local'),
  block('172.16.0.0/12', 'private'),
  // IETF protocol assignments: DS-Lite, the dummy address, NAT64 discovery (.170, .171) …
  block('192.0.0.0/24', 'reserved'),
  block('192.0.0.9/32', null), // PCP anycast
  block('192.0.0.10/32', null), // TURN anycast
  block('192.0.2.0/24', 'documentation'),
  // Deprecated 6to4 relay anycast (RFC 7526); its 6a44 relay (.2) is a relay, never a receiver.
  block('192.88.99.0/24', 'reserved'),
  block('192.168.0.0/16', 'private'),
  block('198.18.0.0/15', 'benchmarking'),
  block('198.51.100.0/24', 'documentation'),
  block('203.0.113.0/24', 'documentation'),
  block('224.0.0.0/4', 'multicast'),
  block('240.0.0.0/4', 'reserved'),
  block('255.255.255.255/32', 'broadcast'),
];

/**
 * The IANA IPv6 Special-Purpose Address Registry, plus multicast and the deprecated site-local
 * block. Anything outside global unicast (2000::/3) that is neither listed nor an embedded IPv4
 * form is reserved. 2620:4f:8000::/48 (AS112) lies inside 2000::/3 and needs no entry.
 */
const IPV6_BLOCKS: Block[] = [
  block('::/128', 'unspecified'),
  block('::1/128', 'loopback'),
  block('64:ff9b:1::/48', 'nat64-local'),
  block('100::/64', 'discard'),
  block('100:0:0:1::/64', 'reserved'), // the dummy prefix (RFC 9780)
  block('2001::/23', 'reserved'), // IETF protocol assignments
  block('2001:1::1/128', null), // PCP anycast
  block('2001:1::2/128', null), // TURN anycast
  block('2001:1::3/128', null), // DNS-SD SRP anycast
  block('2001:2::/48', 'benchmarking'),
  block('2001:3::/32', null), // AMT
  block('2001:4:112::/48', null), // AS112-v6
  block('2001:10::/28', 'reserved'), // ORCHID, deprecated
  block('2001:20::/28', null), // ORCHIDv2
  block('2001:30::/28', null), // drone remote ID
  block('2001:db8::/32', 'documentation'),
  block('3fff::/20', 'documentation'),
  block('5f00::/16', 'reserved'), // SRv6 SIDs
  block('fc00::/7', 'private'),
  block('fe80::/10', 'link-local'),
  block('fec0::/10', 'site-local'),
  block('ff00::/8', 'multicast'),
];
const GLOBAL_UNICAST = block('2000::/3', null);

/** What refuses an address: the rule, and the IPv4 address it was judged by when embedded. */
export interface Verdict {
  rule: NetworkRule;
  /** The embedded IPv4 address and the form that carried it, e.g. `127.0.0.1 (NAT64)`. */
  embedded?: string;
}

/**
 * Which rule forbids connecting to `address`, or null when it is globally reachable or `allowed`
 * opens its range (see `verdict`).
 */
export function forbiddenRule(address: string, allowed: BlockList): NetworkRule | null {
  return verdict(address, allowed)?.rule ?? null;
}

/**
 * Judges an address as SPEC §9 says: refused unless globally reachable, an IPv4 address embedded
 * in an IPv6 one judged by the IPv4 rules. `allowed` (STEP_COMPLETE_ALLOWED_NETWORKS) opens what
 * it names, and an embedded IPv4 address it names too: such a form reaches no host the plain
 * address does not, and the operator has opened that one already (`::ffff:127.0.0.1` is the very
 * same host as `127.0.0.1`). Local-use NAT64 is the exception, opened only by an IPv6 range.
 */
export function verdict(address: string, allowed: BlockList): Verdict | null {
  const plain = address.replace(/%.*$/, ''); // a zone (fe80::1%eth0) names an interface, not a host
  const family = isIP(plain);
  if (family === 0) return null; // a name, not an address: its lookup is what gets judged
  if (allowed.check(plain, family === 6 ? 'ipv6' : 'ipv4')) return null;
  const value = addressValue(plain);
  if (family === 4) return ipv4Verdict(value, allowed);

  const own = longestMatch(IPV6_BLOCKS, value, 128);
  if (own?.rule === 'unspecified' || own?.rule === 'loopback') return { rule: own.rule };
  const carried = embeddedIPv4(value);
  if (carried.length > 0) {
    for (const { ipv4, form } of carried) {
      const judged = ipv4Verdict(ipv4, allowed);
      if (judged) return { ...judged, embedded: `${ipv4Text(ipv4)} (${form})` };
    }
    // The registry marks the local-use NAT64 prefix not globally reachable: it leads into the
    // operator's own network, and where the IPv4 address sits depends on a prefix length chosen
    // there, so it is refused whatever it seems to carry. The other forms reach what they carry.
    return own?.rule === 'nat64-local' ? { rule: own.rule } : null;
  }
  if (own) return own.rule ? { rule: own.rule } : null;
  return inBlock(GLOBAL_UNICAST, value, 128) ? null : { rule: 'reserved' };
}

function ipv4Verdict(value: bigint, allowed: BlockList): Verdict | null {
  if (allowed.check(ipv4Text(value), 'ipv4')) return null;
  const rule = longestMatch(IPV4_BLOCKS, value, 32)?.rule;
  return rule ? { rule } : null;
}

function longestMatch(blocks: Block[], value: bigint, bits: number): Block | undefined {
  let best: Block | undefined;
  for (const candidate of blocks) {
    if (inBlock(candidate, value, bits) && (!best || candidate.prefix > best.prefix)) {
      best = candidate;
    }
  }
  return best;
}

function inBlock({ base, prefix }: Block, value: bigint, bits: number): boolean {
  const shift = BigInt(bits - prefix);
  return value >> shift === base >> shift;
}

const low32 = (value: bigint) => value & 0xffffffffn;
const MAPPED = block('::ffff:0:0/96', null);
const COMPATIBLE = block('::/96', null); // deprecated (RFC 4291)
const TRANSLATED = block('::ffff:0:0:0/96', null); // SIIT (RFC 2765)
const NAT64 = block('64:ff9b::/96', null);
const NAT64_LOCAL = block('64:ff9b:1::/48', null);
const SIX_TO_FOUR = block('2002::/16', null);
const TEREDO = block('2001::/32', null);

/**
 * The IPv4 addresses an IPv6 address carries, with the form that carries each. 6to4 and Teredo
 * are judged by what they carry rather than refused outright: the registry leaves their
 * reachability to the IPv4 host they name (its "N/A"), so a global one may pass and a loopback or
 * private one is refused under the IPv4 rule that names it. Teredo carries two: the server, and
 * the client obfuscated as the bitwise NOT of the last 32 bits.
 */
function embeddedIPv4(value: bigint): { ipv4: bigint; form: string }[] {
  const last = low32(value);
  if (inBlock(MAPPED, value, 128)) return [{ ipv4: last, form: 'IPv4-mapped' }];
  if (inBlock(COMPATIBLE, value, 128)) return [{ ipv4: last, form: 'IPv4-compatible' }];
  if (inBlock(TRANSLATED, value, 128)) return [{ ipv4: last, form: 'IPv4-translated' }];
  if (inBlock(NAT64, value, 128)) return [{ ipv4: last, form: 'NAT64' }];
  if (inBlock(NAT64_LOCAL, value, 128)) return [{ ipv4: last, form: 'local-use NAT64' }];
  if (inBlock(SIX_TO_FOUR, value, 128)) return [{ ipv4: low32(value >> 80n), form: '6to4' }];
  if (inBlock(TEREDO, value, 128)) {
    return [
      { ipv4: low32(value >> 64n), form: 'Teredo server' },
      { ipv4: low32(~value), form: 'Teredo client' },
    ];
  }
  return [];
}

/** An address as an unsigned integer, 32 bits for IPv4 and 128 for IPv6 (valid input assumed). */
function addressValue(address: string): bigint {
  if (isIP(address) === 4) {
    return address.split('.').reduce((value, octet) => (value << 8n) | BigInt(octet), 0n);
  }
  // A dotted IPv4 tail (::ffff:1.2.3.4) is two groups.
  const text = address.replace(/(\d+\.\d+\.\d+\.\d+)$/, (dotted) => {
    const ipv4 = addressValue(dotted);
    return `${(ipv4 >> 16n).toString(16)}:${(ipv4 & 0xffffn).toString(16)}`;
  });
  const [head, tail] = text.split('::');
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return all.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function ipv4Text(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

export class PrivateNetworkError extends Error {
  readonly code = 'EPRIVATENETWORK';
  constructor(address: string, { rule, embedded }: Verdict) {
    super(
      `refused to connect to ${address}: a ${rule} address` +
        (embedded ? ` (it carries ${embedded})` : '') +
        ', which endpoints created through the API may not reach ' +
        '(STEP_COMPLETE_ALLOWED_NETWORKS opens a range)',
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
        const refused = verdict(candidate, allowed);
        if (refused) return callback(new PrivateNetworkError(candidate, refused), address, family);
      }
      callback(null, address, family);
    });
  };
}
