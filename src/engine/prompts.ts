/**
 * The prompts of the knowledge-incorporation experiment. A self-edit prompt shows a passage and
 * asks the model to write training data about it; the QA prompts ask a question with the passage
 * hidden (closed book, the reward) or shown (reading). The wording is the project's own; the
 * shapes follow the method: the passage as "{title}\n{context}", a cue line the completion
 * continues from, and answers that end at a newline. They belong to neither seal/ nor world/: the
 * world's corpus teaches the default model these shapes, and SEAL prompts it with them.
 */

export const SELF_EDIT_FORMATS = [
  'implications',
  'implications-long',
  'implications-very-long',
  'rewrite',
  'self-qa',
  'no-prompt',
] as const;

export type SelfEditFormat = (typeof SELF_EDIT_FORMATS)[number];

/** What the model writes after each answer: generation of an answer stops here. */
export const ANSWER_END = '\n';

/**
 * Where a self-edit written after a plain completion prompt ends, besides the end-of-sequence
 * token: its lines form one block, so a blank line means a base model has moved on to a new
 * document (often another passage, whose facts would then be trained on as this one's). A chat
 * model ends its turn instead, and may set its lines apart with blank ones.
 */
export function selfEditStopStrings(promptStyle: 'completion' | 'chat'): string[] {
  return promptStyle === 'completion' ? ['\n\n'] : [];
}

/** The cue a self-QA completion continues from; parsing puts it back in front of the completion. */
export const SELF_QA_CUE = 'Question 1: ';

function passageBlock(title: string, context: string): string {
  return `Passage:\n${title}\n${context}`;
}

function implicationsPrompt(amount: string, title: string, context: string): string {
  return (
    `Read the passage below and write ${amount} of statements that follow from it, ` +
    `directly or indirectly.\n\n${passageBlock(title, context)}\n\nImplications:\n`
  );
}

export function selfEditPrompt(format: SelfEditFormat, title: string, context: string): string {
  switch (format) {
    case 'implications':
      return implicationsPrompt('a list', title, context);
    case 'implications-long':
      return implicationsPrompt('a long list', title, context);
    case 'implications-very-long':
      return implicationsPrompt('a very long list', title, context);
    case 'rewrite':
      return (
        'Read the passage below and write it again in several different ways, one version per ' +
        `line.\n\n${passageBlock(title, context)}\n\nRewritten passages:\n`
      );
    case 'self-qa':
      return (
        'Read the passage below and turn what it says into questions with their answers.' +
        `\n\n${passageBlock(title, context)}\n\n${SELF_QA_CUE}`
      );
    case 'no-prompt':
      return `${title}\n${context}\n`;
    default:
      throw new Error(
        `unknown self-edit format "${String(format)}" (known: ${SELF_EDIT_FORMATS.join(', ')})`,
      );
  }
}

/** A question asked with the passage hidden: the answer must come from the weights. */
export function closedBookPrompt(question: string): string {
  return `Answer the question briefly and directly.\nQuestion: ${question}\nAnswer:`;
}

/** A question asked with the passage in view (reading comprehension). */
export function readingPrompt(title: string, context: string, question: string): string {
  return (
    'Read the passage and answer the question briefly and directly.\n\n' +
    `${passageBlock(title, context)}\n\nQuestion: ${question}\nAnswer:`
  );
}

/** The text a model should produce after a QA prompt: a space, the answer, the end mark. */
export function answerCompletion(answer: string): string {
  return ` ${answer}${ANSWER_END}`;
}

/**
 * Asks a model whether an answer is right, as the method's yes/no judge does: the question, the
 * gold answer and the answer to judge; the judge's reply starts with yes or no.
 */
export function judgePrompt(question: string, gold: string, answer: string): string {
  return (
    'Decide whether the answer to the question is correct, given the gold answer.\n' +
    `Question: ${question}\nGold answer: ${gold}\nAnswer: ${answer}\n` +
    'Is the answer correct? Reply yes or no.\nReply:'
  );
}
