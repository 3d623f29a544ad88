/** The projections a LoRA adapter can target, by their Hugging Face / PEFT module names. */
export const LORA_TARGETS = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export function isLoraTarget(name: string): name is LoraTarget {
  return (LORA_TARGETS as readonly string[]).includes(name);
}
