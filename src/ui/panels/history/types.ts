/** Runs a History action: shows its result text, or its error, and then reloads the lists. */
export type HistoryAction = (work: () => Promise<string>) => void;

export function when(time: number): string {
  return new Date(time).toLocaleString();
}

/** The file picked in a file input, which is cleared so that picking the same file again works. */
export function takePickedFile(event: Event): File | null {
  const input = event.currentTarget as HTMLInputElement;
  const file = input.files?.[0] ?? null;
  input.value = '';
  return file;
}
