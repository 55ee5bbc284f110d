/**
 * A one-at-a-time promise queue. Tasks run in call order and never overlap;
 * a failing task does not stop the ones queued behind it.
 */

/** Runs `task` after every task submitted before it has settled. */
export type Serializer = <T>(task: () => Promise<T>) => Promise<T>;

/** Creates an independent queue. */
export function createSerializer(): Serializer {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task, task);
    tail = run.catch(() => undefined);
    return run;
  };
}
