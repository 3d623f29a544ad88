/** A SEAL run that ends in seconds on a tiny model: one round of two contexts, two short self-edits each. */
export const TINY_SEAL_CONFIG = {
  seed: 3,
  selfEdit: { samples: 2, maxNewTokens: 8 },
  inner: { epochs: 1, maxLength: 32 },
  grading: { maxAnswerTokens: 3, maxQuestions: 3 },
  reward: 'likelihood-gain',
  outer: { rounds: 1, contextsPerRound: 2 },
  heldOut: { contexts: 1 },
};
