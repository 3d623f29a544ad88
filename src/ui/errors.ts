/** The text to show for a failure, whatever was thrown. */
export function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** Whether a job ended because it was cancelled (the engine's CancelledError, over the RPC). */
export function isCancelled(cause: unknown): boolean {
  return cause instanceof Error && cause.name === 'CancelledError';
}
