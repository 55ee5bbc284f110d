/**
 * Freezes plain data all the way down. Used for what is made once and then
 * shared by many requests: the configuration, a verified token's claims, a
 * client certificate's identity. Frozen data can be shared without copies,
 * and the decision log keeps the JSON of objects frozen all the way down
 * (audit/event-json.ts), so a caller's identity is serialised once, not per event.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
