/**
 * Writing self-edits: the generator continues a passage's self-edit prompt, several samples as one
 * batch, each from its own seeded stream. A self-edit ends where the model ends it (end of text,
 * the start of another document, a blank line after a completion prompt), after the configured
 * number of lines, or at the token limit, whose unfinished last line is dropped.
 */
import type { Checkpoint } from '../jobs';
import { generate, type FinishReason, type GenerationStep } from '../model/generate';
import type { Passage } from '../store';
import { selfEditPromptOf, type SealConfig } from './config';
import { stopTokenIds } from '../model/generateText';
import { promptText, type SealModel } from './innerLoop';
import { selfEditStopStrings } from '../prompts';

/** A sampled self-edit: its complete lines, and whether the token limit cut it short. */
export interface SampledSelfEdit {
  text: string;
  truncated: boolean;
}

/**
 * The text of a generated self-edit that can be trained on: when the token limit ended it, its
 * last, unfinished line is dropped (a fragment would be learned as a statement).
 */
export function completeLines(text: string, finishReason: FinishReason): SampledSelfEdit {
  if (finishReason !== 'length') return { text, truncated: false };
  return { text: text.slice(0, text.lastIndexOf('\n') + 1), truncated: true };
}

/** `count` self-edits of a passage, sampled as one batch; each row has its own seeded stream. */
export async function sampleSelfEdits(
  model: SealModel,
  config: Pick<SealConfig, 'selfEdit' | 'format' | 'customPrompt' | 'promptStyle'>,
  passage: Pick<Passage, 'title' | 'context'>,
  seed: number,
  count: number,
  checkpoint?: Checkpoint,
  onStep?: (step: GenerationStep) => void,
): Promise<SampledSelfEdit[]> {
  const prompt = model.tokenizer.encode(
    promptText(model, config.promptStyle, selfEditPromptOf(config, passage.title, passage.context)),
  );
  const result = await generate(
    model,
    Array.from({ length: count }, () => prompt),
    {
      maxNewTokens: config.selfEdit.maxNewTokens,
      maxLines: config.selfEdit.maxLines,
      sampling: {
        temperature: config.selfEdit.temperature,
        topK: 0,
        topP: config.selfEdit.topP,
        seed,
      },
      stopTokenIds: stopTokenIds(model, { atDocumentStart: true }),
      stopStrings: selfEditStopStrings(config.promptStyle),
      decode: (ids) => model.tokenizer.decode(ids),
      checkpoint,
      onStep,
    },
  );
  return result.sequences.map((s) => completeLines(s.text, s.finishReason));
}
