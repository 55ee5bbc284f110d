import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { isDeeplyFrozen } from '../../../src/audit/event-json.js';
import type { CallerIdentity } from '../../../src/proxy/identity.js';
import { buildRequestInput } from '../../../src/proxy/input.js';
import { deepFreeze } from '../../../src/util/deep-freeze.js';

/** A TLS socket as far as the input builder reads one. */
function socket(port: number): object {
  return { remoteAddress: '10.0.0.7', remotePort: port, getCipher: () => ({ name: 'TLS_AES_256_GCM_SHA384' }), getProtocol: () => 'TLSv1.3', alpnProtocol: 'http/1.1', servername: 'localhost' };
}

const request = (sock: object): IncomingMessage => ({ method: 'POST', url: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, socket: sock }) as unknown as IncomingMessage;

// As identity.ts makes them: claims frozen all the way down and cached per token, a new caller object per request.
const claimsA = deepFreeze({ iss: 'https://idp.bank-a.example', sub: 'analyst-7', party: 'bank-a', roles: ['fraud'] });
const claimsB = deepFreeze({ iss: 'https://idp.bank-b.example', sub: 'analyst-9', party: 'bank-b', roles: ['fraud'] });
const callerWith = (jwt: Readonly<Record<string, unknown>>, apiKey?: string): CallerIdentity => ({ ...(apiKey === undefined ? {} : { api_key: Object.freeze({ id: apiKey }) }), jwt });

describe('buildRequestInput: input.peer with a caller identity', () => {
  it('is the connection peer with the identity merged in, frozen all the way down, made once while the caller stays', () => {
    const sock = socket(50001);
    const anonymous = buildRequestInput(request(sock), 'r0', undefined, 0).peer;
    const first = buildRequestInput(request(sock), 'r1', undefined, 0, callerWith(claimsA, 'bank-a-batch')).peer;
    const again = buildRequestInput(request(sock), 'r2', undefined, 0, callerWith(claimsA, 'bank-a-batch')).peer;
    expect(first).toEqual({ ...anonymous, api_key: { id: 'bank-a-batch' }, jwt: claimsA });
    expect(Object.keys(first)).toEqual([...Object.keys(anonymous), 'api_key', 'jwt']);
    expect(again).toBe(first);
    expect(isDeeplyFrozen(first)).toBe(true);
    // The connection's own peer is untouched.
    expect(anonymous).not.toHaveProperty('jwt');
  });

  it('changes with the caller: another token, another key, another connection', () => {
    const sock = socket(50002);
    const a = buildRequestInput(request(sock), 'r1', undefined, 0, callerWith(claimsA)).peer;
    const b = buildRequestInput(request(sock), 'r2', undefined, 0, callerWith(claimsB)).peer;
    expect(b).not.toBe(a);
    expect(b.jwt).toBe(claimsB);
    const keyed = buildRequestInput(request(sock), 'r3', undefined, 0, callerWith(claimsB, 'k2')).peer;
    expect(keyed).not.toBe(b);
    expect(keyed.api_key).toEqual({ id: 'k2' });
    const otherKey = buildRequestInput(request(sock), 'r4', undefined, 0, callerWith(claimsB, 'k3')).peer;
    expect(otherKey.api_key).toEqual({ id: 'k3' });
    const elsewhere = buildRequestInput(request(socket(50003)), 'r5', undefined, 0, callerWith(claimsB, 'k3')).peer;
    expect(elsewhere).not.toBe(otherKey);
    expect(elsewhere.port).toBe(50003);
    // Back to the first caller: the same content again, whether or not the object is the same.
    expect(buildRequestInput(request(sock), 'r6', undefined, 0, callerWith(claimsA)).peer).toEqual(a);
  });

  it('freezes a verified identity all the way down (deepFreeze)', () => {
    const claims = deepFreeze({ realm: { roles: ['a', 'b'] }, list: [{ x: 1 }] });
    expect(Object.isFrozen(claims.realm)).toBe(true);
    expect(Object.isFrozen(claims.realm.roles)).toBe(true);
    expect(Object.isFrozen(claims.list[0])).toBe(true);
  });
});
