import { SELF_QA_CUE, type SelfEditFormat } from '../prompts';

/**
 * Turning a self-edit completion into fine-tuning examples, as the method applies a self-edit:
 * every line becomes its own example prefixed with the passage title ("{title}\n{line}"), a self-QA
 * completion is split into its "Question n:" blocks instead, and the passage itself
 * ("{title}\n{context}") is always one more example.
 */

/** An opening line that only announces the list ("Here are some implications:"). */
function isFiller(line: string): boolean {
  return /:\s*$/.test(line) || /^(sure|okay|ok|here (is|are))\b/i.test(line);
}

/** The self-edit's own lines, without blank lines and without an opening filler line. */
export function selfEditLines(format: SelfEditFormat, completion: string): string[] {
  if (format === 'self-qa') {
    const text = completion.startsWith(SELF_QA_CUE) ? completion : SELF_QA_CUE + completion;
    return text
      .split(/(?=Question \d+:)/)
      .map((block) => block.trim())
      .filter((block) => /^Question \d+:\s*\S/.test(block));
  }
  const lines = completion
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (lines.length > 0 && isFiller(lines[0] as string)) lines.shift();
  return lines;
}

/** The fine-tuning texts of one self-edit: one per line (or QA block), then the passage. */
export function selfEditTrainingTexts(
  format: SelfEditFormat,
  title: string,
  context: string,
  completion: string,
): string[] {
  return [
    ...selfEditLines(format, completion).map((line) => `${title}\n${line}`),
    `${title}\n${context}`,
  ];
}
