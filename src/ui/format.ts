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

/** Rounded to `digits` decimals, without a trailing ".0". */
function rounded(value: number, digits: number): string {
  return String(Number(value.toFixed(digits)));
}

/**
 * A duration range in the largest unit that keeps it readable: "about 40–70 seconds",
 * "about 12–18 minutes", "about 3.5–5 hours", "about 2–3 days".
 */
export function durationRange(lowSeconds: number, highSeconds: number): string {
  const units = [
    { name: 'seconds', seconds: 1, below: 90 },
    { name: 'minutes', seconds: 60, below: 90 * 60 },
    { name: 'hours', seconds: 3600, below: 48 * 3600 },
    { name: 'days', seconds: 86400, below: Infinity },
  ];
  const unit = units.find((u) => highSeconds < u.below)!;
  const digits = unit.seconds >= 3600 && highSeconds / unit.seconds < 10 ? 1 : 0;
  const low = rounded(lowSeconds / unit.seconds, digits);
  const high = rounded(highSeconds / unit.seconds, digits);
  if (low !== high) return `about ${low}–${high} ${unit.name}`;
  return `about ${high} ${high === '1' ? unit.name.slice(0, -1) : unit.name}`;
}
