/** How a stored run stands, said the same way in every panel that lists runs. */
import type { RunSummary } from '../engine/store';

/**
 * A run stored as running that no tab writes was interrupted (a reload, a closed tab): it can
 * resume, like a paused one.
 */
function isInterrupted(run: RunSummary): boolean {
  return run.status === 'running' && !run.writable && !run.activeElsewhere;
}

export function runStatusLabel(run: RunSummary): string {
  if (run.activeElsewhere) return 'running in another tab (view only)';
  if (isInterrupted(run)) return 'interrupted (can resume)';
  return run.status;
}

/** Whether this tab can go on with the run. */
export function canResume(run: RunSummary): boolean {
  return (run.status === 'paused' && !run.activeElsewhere) || isInterrupted(run);
}
