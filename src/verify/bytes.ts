/** Byte helpers every verifier module shares. */

/** Lower-case hex of exactly the bytes of the view (not its whole buffer). */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
