/**
 * Pieces the engine's valibot schemas share: number rules whose every failure (a wrong type, NaN,
 * Infinity, out of range) gives the one message the caller words, and errors that show the value.
 */
import * as v from 'valibot';

/** An error message, or one made from the issue (its `input` is the value refused). */
export type Message = string | ((issue: v.BaseIssue<unknown>) => string);

/** A value as an error message shows it: NaN and Infinity as such, long values cut short. */
export function shownValue(value: unknown): string {
  const text =
    typeof value === 'number' || value === undefined ? String(value) : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

export function isDistinct(list: readonly unknown[]): boolean {
  return new Set(list).size === list.length;
}

/** A JSON object (not an array, not null), before an object schema reads its keys. */
export const plainObjectSchema = (message: Message) =>
  v.custom<Record<string, unknown>>(
    (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
    message,
  );

/** A whole number in [min, max]. */
export const wholeNumberSchema = (message: Message, min: number, max = Number.MAX_SAFE_INTEGER) =>
  v.pipe(
    v.number(message),
    v.safeInteger(message),
    v.minValue(min, message),
    v.maxValue(max, message),
  );

/** A finite number above zero. */
export const positiveNumberSchema = (message: Message) =>
  v.pipe(v.number(message), v.finite(message), v.gtValue(0, message));

/** A probability of dropping a unit: in [0, 1). */
export const dropoutSchema = (message: Message) =>
  v.pipe(v.number(message), v.minValue(0, message), v.ltValue(1, message));

/** `value` parsed by `schema`, or an error `where: <the first issue as `describe` words it>`. */
export function parseOrThrow<T extends v.GenericSchema>(
  schema: T,
  value: unknown,
  where: string,
  describe: (issue: v.InferIssue<T>) => string = (issue) => issue.message,
): v.InferOutput<T> {
  const result = v.safeParse(schema, value, { abortEarly: true });
  if (result.success) return result.output;
  throw new Error(`${where}: ${describe(result.issues[0])}`);
}
