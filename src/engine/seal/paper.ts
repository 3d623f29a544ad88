/**
 * The paper's Table 2 (Qwen2.5-7B on SQuAD v1.1 passages): no-context QA accuracy in percent,
 * graded by a GPT-4.1 yes/no judge, keyed as `table2Metrics` keys our rows. Shown beside ours,
 * each with the paper version it comes from.
 */
export const PAPER_TABLE2 = {
  /** arXiv v1, Table 2, single passage (LoRA inner loop). */
  v1Single: {
    base: 32.7,
    passage: 33.5,
    base_self_edits: 39.7,
    teacher_self_edits: 46.3,
    seal_final: 47.0,
  },
  /** arXiv v2, continued pretraining on n = 200 passages (full fine-tuning). */
  v2Cpt: {
    base: 32.7,
    passage: 36.0,
    base_self_edits: 50.6,
    teacher_self_edits: 59.4,
    seal_final: 58.2,
  },
} as const;
