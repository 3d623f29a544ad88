/**
 * Turning what the user typed into the token ids the model expects: a chat model's own
 * `chat_template` (Jinja, rendered by `@huggingface/jinja` as transformers'
 * `apply_chat_template` does), or the raw text for a base model.
 */
import { Template } from '@huggingface/jinja';
import type { Tokenizer } from './tokenizer';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export type PromptInput =
  { kind: 'completion'; text: string } | { kind: 'chat'; messages: ChatMessage[] };

/** Renders the conversation and leaves it open for the assistant's reply. */
export function renderChat(
  chatTemplate: string,
  messages: ChatMessage[],
  tokenizer: Pick<Tokenizer, 'specialTokens'>,
): string {
  let template: Template;
  try {
    template = new Template(chatTemplate);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`chat_template does not parse: ${reason}`);
  }
  try {
    return template.render({
      ...tokenizer.specialTokens,
      messages,
      add_generation_prompt: true,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`chat_template failed to render: ${reason}`);
  }
}

/**
 * Token ids of the prompt. A rendered chat template already spells out its special tokens (BOS
 * included), so, like transformers, it is encoded without adding them again.
 */
export function encodePrompt(
  input: PromptInput,
  tokenizer: Tokenizer,
  chatTemplate: string | null,
): number[] {
  if (input.kind === 'completion') return tokenizer.encode(input.text);
  if (chatTemplate === null) {
    throw new Error('this model has no chat_template; use plain completion instead of chat');
  }
  const rendered = renderChat(chatTemplate, input.messages, tokenizer);
  return tokenizer.encode(rendered, { addSpecialTokens: false });
}
