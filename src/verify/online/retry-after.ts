/**
 * Retry-After (RFC 9110 §10.2.3): either delta-seconds or an HTTP-date.
 * AMD KDS answers 429 when a client asks for VCEKs too fast (about one per
 * 10 s per IP); honouring its hint is the difference between waiting once and
 * being throttled for longer.
 */

/** Wait assumed when a 429 carries no usable Retry-After: AMD KDS's observed pace of one VCEK per 10 s. */
export const DEFAULT_RETRY_AFTER_MS = 10_000;

/**
 * Milliseconds to wait according to a Retry-After value, or undefined when
 * the header is absent or unreadable. A date in the past means "now" (0).
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const seconds = Number(text);
    return Number.isSafeInteger(seconds) ? seconds * 1000 : undefined;
  }
  // Only the IMF-fixdate form servers are required to send; Date.parse would also
  // accept free-form text that no server means as a date.
  if (!/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
