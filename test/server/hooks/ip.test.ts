// Subnets of link addresses.
import { describe, expect, it } from 'vitest';
import { networkContains, networkOf, parseIp } from '../../../src/server/hooks/ip.js';

describe('networkOf', () => {
  it('computes IPv4 and IPv6 networks', () => {
    expect(networkOf('10.245.136.38', 21)).toBe('10.245.136.0/21');
    expect(networkOf('172.17.42.1', 16)).toBe('172.17.0.0/16');
    expect(networkOf('2001:db8:a::123', 64)).toBe('2001:db8:a::/64');
    expect(networkOf('2001:db8:0:1:1:0:0:1', 128)).toBe('2001:db8:0:1:1::1/128');
    expect(networkOf('::ffff:10.1.2.3', 120)).toBe('::ffff:a01:200/120');
    expect(networkOf('1.2.3.4', 0)).toBe('0.0.0.0/0');
  });

  it('refuses bad addresses and prefixes', () => {
    expect(networkOf('10.0.0.256', 24)).toBeUndefined();
    expect(networkOf('10.0.0.1', 33)).toBeUndefined();
    expect(networkOf('fe80::1%eth0', 64)).toBeUndefined();
    expect(parseIp('1:2:3:4:5:6:7:8:9')).toBeUndefined();
  });
});

describe('networkContains', () => {
  it('checks family and prefix', () => {
    expect(networkContains('10.0.0.0/8', '10.255.0.1')).toBe(true);
    expect(networkContains('10.0.0.0/8', '11.0.0.1')).toBe(false);
    expect(networkContains('::/0', '10.0.0.1')).toBe(false);
  });
});
