/**
 * How long a run still has to go, from the pace measured so far in this job: no guess before
 * the first episode, and said as rough because episodes differ in cost (answering in context is
 * quick, test-time training is not, and a round's behaviour cloning is not an episode at all).
 */

/** Episodes stored since the job started and the time they took. */
export interface Pace {
  episodes: number;
  ms: number;
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(1, Math.round(ms / 1000));
  if (seconds < 90) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

/** Milliseconds left for `remaining` episodes at `pace`; null until an episode has been timed. */
export function remainingMs(pace: Pace, remaining: number): number | null {
  if (pace.episodes <= 0 || pace.ms <= 0) return null;
  return (pace.ms / pace.episodes) * Math.max(0, remaining);
}

/** The estimate in words, e.g. "about 4 min left at 2.1 s an episode (12 timed)". */
export function paceNote(pace: Pace, remaining: number): string | null {
  const left = remainingMs(pace, remaining);
  if (left === null) return null;
  const each = pace.ms / pace.episodes;
  const perEpisode = each < 1000 ? `${Math.round(each)} ms` : `${(each / 1000).toFixed(1)} s`;
  return `about ${formatDuration(left)} left at ${perEpisode} an episode (${pace.episodes} timed so far; episodes differ in cost)`;
}
