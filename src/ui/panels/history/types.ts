/** Runs a History action: shows its result text, or its error, and then reloads the lists. */
export type HistoryAction = (work: () => Promise<string>) => void;

export function when(time: number): string {
  return new Date(time).toLocaleString();
}
