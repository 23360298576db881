// Waiting between attempts: the reply stream's reconnects and the refresh's retries.

const BASE_MS = 500;
const CAP_MS = 10_000;

/** Doubling from 500 ms up to 10 s, then a random point in its upper half, so that many
 * clients cut off together do not come back together. */
export function backoffMs(failures: number): number {
  const ceiling = Math.min(CAP_MS, BASE_MS * 2 ** (failures - 1));
  return ceiling / 2 + (Math.random() * ceiling) / 2;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(finish, ms);
    signal?.addEventListener("abort", finish, { once: true });
    function finish() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      resolve();
    }
  });
}
