/**
 * The forgetting experiment as a heat map: one row per edit step (before any edit, then after
 * each passage's edit), one column per passage, each cell an accuracy coloured on one scale.
 */

export interface HeatmapCell {
  /** 0–1, or null while not measured. */
  value: number | null;
  /** The passage edited at this step is this column's own. */
  ownEdit: boolean;
}

export interface HeatmapRow {
  label: string;
  cells: HeatmapCell[];
}

/** The rows of a forgetting table: before any edit (when measured), then after each edit. */
export function forgettingRows(table: { before: number[]; rows: number[][] }): HeatmapRow[] {
  const columns = Math.max(table.before.length, ...table.rows.map((row) => row.length));
  const cellsOf = (values: number[], edited: number | null): HeatmapCell[] =>
    Array.from({ length: columns }, (_, j) => ({
      value: values[j] ?? null,
      ownEdit: j === edited,
    }));
  return [
    ...(table.before.length > 0
      ? [{ label: 'before any edit', cells: cellsOf(table.before, null) }]
      : []),
    ...table.rows.map((row, i) => ({
      label: `after editing passage ${i + 1}`,
      cells: cellsOf(row, i),
    })),
  ];
}

/** Hue, saturation and lightness of an accuracy's colour: lightness rises with the value. */
function hslOf(value: number): [number, number, number] {
  const v = Math.min(1, Math.max(0, value));
  return [215 - 45 * v, 0.25 + 0.45 * v, 0.18 + 0.44 * v];
}

/**
 * The colour of an accuracy: from dark blue-grey (0) to bright teal (1), so the scale reads in
 * grey too.
 */
export function accuracyColour(value: number): string {
  const [h, s, l] = hslOf(value);
  return `hsl(${h.toFixed(0)} ${(s * 100).toFixed(0)}% ${(l * 100).toFixed(0)}%)`;
}

/** WCAG relative luminance of an HSL colour. */
function luminance([h, s, l]: [number, number, number]): number {
  const a = s * Math.min(l, 1 - l);
  const channel = (n: number) => {
    const k = (n + h / 30) % 12;
    const c = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(0) + 0.7152 * channel(8) + 0.0722 * channel(4);
}

const DARK_TEXT = { colour: '#0d1117', luminance: 0.0055 };
const LIGHT_TEXT = { colour: '#ffffff', luminance: 1 };

/** Dark or light text, whichever contrasts more with `accuracyColour(value)`. */
export function textColourOn(value: number): string {
  const background = luminance(hslOf(value));
  const contrast = (text: number) =>
    (Math.max(text, background) + 0.05) / (Math.min(text, background) + 0.05);
  return contrast(DARK_TEXT.luminance) >= contrast(LIGHT_TEXT.luminance)
    ? DARK_TEXT.colour
    : LIGHT_TEXT.colour;
}

/** The legend's stops, 0 % to 100 %. */
export const LEGEND_STOPS = [0, 0.25, 0.5, 0.75, 1] as const;
