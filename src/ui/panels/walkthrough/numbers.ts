/** A probability (0–1) as a percentage that stays readable when it is tiny. */
export function probability(value: number): string {
  const percent = value * 100;
  if (percent >= 0.1) return `${percent.toFixed(1)} %`;
  if (percent === 0) return '0 %';
  return `${percent.toPrecision(2)} %`;
}

/** A signed number with a fixed count of decimals ("+0.123", "−0.045"). */
export function signed(value: number, digits = 3): string {
  const text = Math.abs(value).toFixed(digits);
  return value < 0 ? `−${text}` : `+${text}`;
}
