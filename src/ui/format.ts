export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** A share (0–1) as a percentage; '…' while it is not measured yet. */
export function percent(value: number | undefined): string {
  return value === undefined ? '…' : `${(value * 100).toFixed(1)}%`;
}

/**
 * A SEAL round, one convention everywhere: round 0 is the base model's self-edits, before any
 * M-step; round r comes after r M-steps.
 */
export function roundLabel(round: number): string {
  if (round === 0) return 'round 0 (base model)';
  return `round ${round} (after ${round} M-step${round === 1 ? '' : 's'})`;
}
