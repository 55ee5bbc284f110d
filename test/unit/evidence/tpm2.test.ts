/**
 * TPM 2.0 marshalling details that the swtpm tests cannot provoke: the
 * command bytes of one command spelled out from Part 3, and the retry of
 * TPM_RC_RETRY. Everything else runs against swtpm (azure-vtpm.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { TPM_CC, Tpm, TpmError, marshalCommand, type TpmTransport } from '../../../src/evidence/tpm2.js';

function header(rc: number, params: number[] = []): Uint8Array {
  const size = 10 + params.length;
  return Uint8Array.from([0x80, 0x01, 0, 0, size >> 8, size & 0xff, rc >>> 24, (rc >> 16) & 0xff, (rc >> 8) & 0xff, rc & 0xff, ...params]);
}

describe('TPM 2.0 commands', () => {
  it('NV_Read with a password session is laid out as TPM 2.0 Part 1 (sessions) and Part 3 (TPM2_NV_Read) say', () => {
    const bytes = marshalCommand(TPM_CC.NV_Read, [0x40000001, 0x01400001], Uint8Array.from([0x04, 0x00, 0x00, 0x00]), true);
    expect(Buffer.from(bytes).toString('hex')).toBe(
      [
        '8002', // TPM_ST_SESSIONS
        '00000023', // size 35: 10 header + 8 handles + 4 + 9 session + 4 parameters
        '0000014e', // TPM_CC_NV_Read
        '40000001', // authHandle: owner
        '01400001', // nvIndex
        '00000009', // authorization area size
        '40000009', '0000', '00', '0000', // TPM_RS_PW, empty nonce, attributes, empty password
        '0400', '0000', // size 1024, offset 0
      ].join(''),
    );
  });

  it('TPM_RC_RETRY is asked again; other errors are typed with their name', async () => {
    const answers = [header(0x922), header(0, [0, 14, 0x01, 0x40, 0x00, 0x01, 0x00, 0x0b, 0x20, 0x06, 0x00, 0x06, 0x00, 0x00, 0x0a, 0x28, 0, 0])];
    const sent: Uint8Array[] = [];
    const transport: TpmTransport = { send: async (c) => (sent.push(c), answers.shift()!), close: async () => undefined };
    expect(await new Tpm(transport).nvReadPublic(0x01400001)).toEqual({ index: 0x01400001, attributes: 0x20060006, dataSize: 2600 });
    expect(sent).toHaveLength(2);

    const missing: TpmTransport = { send: async () => header(0x18b), close: async () => undefined };
    const error = await new Tpm(missing).nvReadPublic(0x01400002).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TpmError);
    expect((error as TpmError).isHandleMissing).toBe(true);
    expect((error as TpmError).message).toMatch(/TPM2_NV_ReadPublic failed with response code 0x18b \(TPM_RC_HANDLE: no such handle\)/);
  });
});
