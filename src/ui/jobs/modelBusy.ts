import type { ModelJob } from '../../engine/api';
import { app } from '../state.svelte';

/**
 * The job holding the model unless it is one of `ownJobIds`: a panel disables what would start
 * another model job while it runs, and offers its own job's Cancel instead.
 */
export function otherModelJob(...ownJobIds: (string | null)[]): ModelJob | null {
  const job = app.modelJob;
  return job !== null && !ownJobIds.includes(job.id) ? job : null;
}
