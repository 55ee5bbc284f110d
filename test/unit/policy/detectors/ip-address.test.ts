import { describe, expect, it } from 'vitest';

import { ipAddressDetector } from '../../../../src/policy/builtins/detectors/ip-address.js';
import { matches } from './helpers.js';

describe('IP address detector', () => {
  it.each([
    ['login from 81.2.69.160 failed', '81.2.69.160'],
    ['home router 192.168.1.1', '192.168.1.1'],
    ['server 10.0.0.12:8080', '10.0.0.12'],
    ['net 172.16.4.0/22', '172.16.4.0'],
    ['bare 1.2.3.4', '1.2.3.4'],
    ['at 81.2.69.160.', '81.2.69.160'],
    ['2a02:1810:4d02:9100:1c3b:96ff:fe7d:1e2a', '2a02:1810:4d02:9100:1c3b:96ff:fe7d:1e2a'],
    ['link fe80::1c3b:96ff:fe7d:1e2a%eth0', 'fe80::1c3b:96ff:fe7d:1e2a'],
    ['[2600:1f18::5]:443', '2600:1f18::5'],
    ['mapped ::ffff:81.2.69.160', '::ffff:81.2.69.160'],
    ['trailing fe80::', 'fe80::'],
  ])('finds the address in %j', (text, expected) => {
    expect(matches(ipAddressDetector, text)).toEqual([expected]);
  });

  it.each([
    ['an octet over 255', '81.2.69.256'],
    ['a leading zero', '81.02.69.160'],
    ['five parts', '1.2.3.4.5'],
    ['a version word', 'version 1.2.3.4'],
    ['a release word', 'release 4.2.1.7'],
    ['a v prefix', 'v1.2.3.4'],
    ['glued letters', '1.2.3.4beta'],
    ['loopback', '127.0.0.1 and ::1 and 0:0:0:0:0:0:0:1'],
    ['unspecified', '0.0.0.0 and ::'],
    ['a netmask', '255.255.255.0'],
    ['documentation ranges', '192.0.2.1 198.51.100.7 203.0.113.9 2001:db8::1'],
    ['a MAC address', '00:1A:2B:3C:4D:5E'],
    ['a time', '12:30:45'],
    ['C++ scope', 'Db::Add and dead::beef'],
    ['two "::"', '2a02::1::2'],
    ['nine groups', '1:2:3:4:5:6:7:8:9'],
    ['a too-long group', '2a02:12345::1'],
  ])('does not report %s', (_label, text) => {
    expect(matches(ipAddressDetector, text)).toEqual([]);
  });
});
