/**
 * How likely the model is to give exactly the gold answer to a closed-book question: the
 * probability of the answer's tokens and its end mark after the question's prompt, the product
 * of each token's probability given the ones before it. Unlike a greedy answer, which is right or
 * wrong, it shows an update moving the model towards the answer before the answer flips.
 */
import * as tf from '@tensorflow/tfjs';
import { forward, type LinearAdapter } from '../model/llama';
import { makeBatch } from '../train/sft';
import { answerCompletion, closedBookPrompt } from '../prompts';
import type { SealConfig } from './config';
import { promptText, type QuestionAnswer, type SealModel } from './innerLoop';

/** Each question's probability (0–1) that the model, asked closed book, answers the gold answer. */
export async function goldAnswerProbabilities(
  model: SealModel,
  questions: readonly QuestionAnswer[],
  config: Pick<SealConfig, 'promptStyle'>,
  adapter?: LinearAdapter,
): Promise<number[]> {
  if (questions.length === 0) return [];
  const sequences = questions.map((q) => {
    const given = model.tokenizer.encode(
      promptText(model, config.promptStyle, closedBookPrompt(q.question)),
    );
    const answer = model.tokenizer.encode(answerCompletion(q.answer), { addSpecialTokens: false });
    const ids = [...given, ...answer].slice(0, model.config.maxPositionEmbeddings);
    return { ids, isTarget: ids.map((_, t) => t >= given.length) };
  });
  // Weights of 1 on the answer's tokens, 0 on the prompt and padding.
  const batch = makeBatch(sequences, 1, model.config.vocabSize);
  const logProbabilities = tf.tidy(() => {
    const logits = forward(model.config, model.weights, batch.inputIds, {
      attentionMask: batch.attentionMask,
      adapter,
    });
    const [rows, length, vocab] = logits.shape;
    const predicting = logits.slice([0, 0, 0], [rows, length - 1, vocab]).reshape([-1, vocab]);
    const labelLogits = tf.gather(predicting.reshape([-1]), batch.labelIndices);
    const tokenLogProbabilities = labelLogits.sub(tf.logSumExp(predicting, -1));
    return tokenLogProbabilities
      .mul(batch.lossWeights.reshape([-1]))
      .reshape([rows, -1])
      .sum(1);
  });
  try {
    return [...(await logProbabilities.data())].map((value) => Math.exp(value));
  } finally {
    tf.dispose([
      logProbabilities,
      batch.inputIds,
      batch.attentionMask,
      batch.labelIndices,
      batch.lossWeights,
    ]);
  }
}
