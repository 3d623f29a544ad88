/**
 * `work` as a function whose calls while it runs fold into one more run after it, so that a burst
 * of changes (a run storing episodes fast) costs two reloads, not one each. Every call resolves
 * once the reload that saw its change is done.
 */
export function coalesced(work: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await work();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  };
}
