"""Writes the tiny reference checkpoints under tests/fixtures/models/ and their golden outputs.

Every model is a seeded random Llama or Qwen2 built with the Hugging Face classes and saved with
`save_pretrained`, so each folder has exactly the Hub layout (config.json, model.safetensors or
shards + model.safetensors.index.json, generation_config.json, tokenizer.json,
tokenizer_config.json). Next to each model:

- goldens.json: the input token ids, the attention masks, the greedy continuations (argmax of a
  full forward pass, 10 tokens, never stopping at end-of-sequence) and what `goldens.safetensors`
  holds;
- goldens.safetensors: the float32 logits of Hugging Face transformers (eval mode, eager
  attention) for those inputs, computed from the weights exactly as stored (so the F16 and BF16
  checkpoints have goldens of their rounded weights);
- tokenizer-goldens.json: texts with their token ids, the decoded text, and rendered chat prompts.

The committed files are the reference: tests never run Python. To regenerate (only needed when
this script changes; the output is deterministic for fixed library versions):

    /path/to/venv/bin/pip install torch transformers safetensors tokenizers numpy
    /path/to/venv/bin/python scripts/make-fixtures.py
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)
import transformers

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "models"

CORPUS = """\
The quick brown fox jumps over the lazy dog. A small model reads a passage and writes notes about it.
The notes restate the passage in plain words, then the model is trained on its own notes.
After training it answers questions about the passage without seeing it again.
Rivers carry water from the mountains to the sea. The sea is salty and the rivers are fresh.
Every morning the baker opens the shop at seven and sells bread, cakes and coffee to the town.
The library keeps old maps of the valley, the roads, the farms and the bridges over the river.
Questions and answers: What does the fox do? It jumps over the dog. Where does water go? To the sea.
Numbers like 1, 2, 3, 10, 42 and 2025 appear in text, as do names like Ada, Alan and Grace.
"""

SPECIAL_TOKENS = ["<s>", "</s>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TOKENIZER_VOCAB_SIZE = 400

LLAMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

GOLDEN_TEXTS = [
    "The fox jumps over the dog.",
    "Where does the water go? To the sea.",
    " leading space, trailing space ",
    "Unseen words: zebra quokka 12345!",
    "Two\nlines and <|im_end|> inside.",
]
GOLDEN_CHAT = [
    {"role": "user", "content": "What does the fox do?"},
    {"role": "assistant", "content": "It jumps."},
    {"role": "user", "content": "Where?"},
]
GENERATED_TOKENS = 10
SEQUENCE_LENGTH = 7


def train_byte_level_bpe() -> Tokenizer:
    """A real byte-level BPE (the kind Llama 3 and Qwen2 use), small enough to commit."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    return tokenizer


def tokenizer_flavour(base: Tokenizer, add_bos: bool) -> Tokenizer:
    """Llama-style tokenizers prepend <s> to every encoding; Qwen2-style ones add nothing."""
    tokenizer = Tokenizer.from_str(base.to_str())
    if add_bos:
        bos = tokenizer.token_to_id("<s>")
        tokenizer.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
        )
    else:
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return tokenizer


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Hugging Face's init leaves biases at 0 and norm weights at 1, which would hide mistakes in
    how they are applied; every parameter gets seeded noise of a scale that keeps logits varied."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in sorted(model.named_parameters()):
            noise = torch.randn(parameter.shape, generator=generator)
            if name.endswith("norm.weight"):
                parameter.copy_(1.0 + 0.1 * noise)
            elif name.endswith(".bias"):
                parameter.copy_(0.1 * noise)
            elif "embed_tokens" in name:
                parameter.copy_(noise)
            else:
                parameter.copy_(noise / parameter.shape[-1] ** 0.5)


def golden_inputs(tokenizer: Tokenizer) -> dict[str, list[list[int]]]:
    first = tokenizer.encode("The quick brown fox jumps over the lazy dog.").ids[:SEQUENCE_LENGTH]
    second = tokenizer.encode("Rivers carry water from the mountains.").ids[:SEQUENCE_LENGTH]
    assert len(first) == len(second) == SEQUENCE_LENGTH
    pad = tokenizer.token_to_id("<|endoftext|>")
    short = second[: SEQUENCE_LENGTH - 3]
    return {
        "input_ids": [first, second],
        # Left padding, as batched generation uses: the mask hides the pads from attention, while
        # position ids stay 0..T-1 (what a plain forward call does with an attention mask).
        "padded_input_ids": [first, [pad] * 3 + short],
        "padded_attention_mask": [[1] * SEQUENCE_LENGTH, [0] * 3 + [1] * len(short)],
    }


@torch.no_grad()
def greedy_continuation(model: torch.nn.Module, ids: list[list[int]]) -> list[list[int]]:
    sequence = torch.tensor(ids)
    for _ in range(GENERATED_TOKENS):
        logits = model(input_ids=sequence).logits[:, -1, :]
        sequence = torch.cat([sequence, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return sequence[:, len(ids[0]) :].tolist()


def write_tokenizer_goldens(folder: Path, hf_tokenizer) -> None:
    encodings = []
    for text in GOLDEN_TEXTS:
        ids = hf_tokenizer.encode(text)
        encodings.append(
            {
                "text": text,
                "ids": ids,
                "decoded": hf_tokenizer.decode(ids),
                "decoded_skip_special": hf_tokenizer.decode(ids, skip_special_tokens=True),
            }
        )
    chat = {
        "messages": GOLDEN_CHAT,
        "prompt": hf_tokenizer.apply_chat_template(
            GOLDEN_CHAT, tokenize=False, add_generation_prompt=True
        ),
    }
    chat["prompt_ids"] = hf_tokenizer.encode(chat["prompt"], add_special_tokens=False)
    (folder / "tokenizer-goldens.json").write_text(compact_json({"encodings": encodings, "chat": chat}))


def hub_style_config(folder: Path) -> None:
    """transformers 5 writes `rope_parameters`; checkpoints on the Hub mostly still carry the
    older `rope_theta` + `rope_scaling` pair, which both the library and our loader accept."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    rope = config.pop("rope_parameters")
    config["rope_theta"] = rope.pop("rope_theta")
    config["rope_scaling"] = None if rope["rope_type"] == "default" else rope
    config["torch_dtype"] = config.pop("dtype")
    config.pop("layer_types", None)
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def write_tokenizer_config(
    folder: Path, bos_token: str | None, eos_token: str, chat_template: str, max_length: int,
    template_in_jinja_file: bool,
) -> None:
    """The classic layout of released checkpoints (transformers 5 writes a different one)."""
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": bos_token,
        "eos_token": eos_token,
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "clean_up_tokenization_spaces": False,
        "model_max_length": max_length,
    }
    if template_in_jinja_file:
        (folder / "chat_template.jinja").write_text(chat_template)
    else:
        config["chat_template"] = chat_template
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


def compact_json(value) -> str:
    """Indented objects, but each list of numbers on one line."""
    text = json.dumps(value, indent=1, ensure_ascii=False)
    return re.sub(r"\[[\d,\s-]+\]", lambda m: re.sub(r"\s+", "", m.group(0)), text) + "\n"


@dataclass
class Saved:
    name: str
    model: torch.nn.Module
    tokenizer: Tokenizer
    dtype: torch.dtype
    chat_template: str
    bos_token: str | None
    eos_token: str
    generation: GenerationConfig
    max_shard_size: str | None = None
    rope_parameters_layout: bool = False
    template_in_jinja_file: bool = False


def save_model(spec: Saved) -> None:
    folder = OUT / spec.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)

    save_options = {"safe_serialization": True}
    if spec.max_shard_size is not None:
        save_options["max_shard_size"] = spec.max_shard_size
    spec.model.to(spec.dtype).save_pretrained(folder, **save_options)
    spec.generation.save_pretrained(folder)
    if not spec.rope_parameters_layout:
        hub_style_config(folder)

    (folder / "tokenizer.json").write_text(spec.tokenizer.to_str(pretty=True) + "\n")
    write_tokenizer_config(
        folder, spec.bos_token, spec.eos_token, spec.chat_template,
        spec.model.config.max_position_embeddings, spec.template_in_jinja_file,
    )

    # Goldens come from the folder as written (so the config rewrite is checked too), with the
    # stored weights widened to float32 exactly.
    reference = AutoModelForCausalLM.from_pretrained(
        folder, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    for name, parameter in reference.state_dict().items():
        expected = spec.model.state_dict()[name].to(torch.float32)
        assert torch.equal(parameter, expected), f"{spec.name}: {name} changed on reload"
    inputs = golden_inputs(spec.tokenizer)
    with torch.no_grad():
        logits = reference(input_ids=torch.tensor(inputs["input_ids"])).logits
        padded_logits = reference(
            input_ids=torch.tensor(inputs["padded_input_ids"]),
            attention_mask=torch.tensor(inputs["padded_attention_mask"]),
        ).logits
    save_file(
        {"logits": logits.contiguous(), "padded_logits": padded_logits.contiguous()},
        folder / "goldens.safetensors",
        metadata={"format": "pt"},
    )
    goldens = {
        "description": (
            "logits[b, t, v] in goldens.safetensors are transformers' float32 logits for input_ids;"
            " padded_logits are for padded_input_ids with padded_attention_mask (compare only"
            " where the mask is 1; position ids are 0..T-1 in both). greedy_continuation is"
            " argmax decoding from input_ids for 10 tokens, never stopping early."
        ),
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "stored_dtype": str(spec.dtype).removeprefix("torch."),
        **inputs,
        "greedy_continuation": greedy_continuation(reference, inputs["input_ids"]),
    }
    (folder / "goldens.json").write_text(compact_json(goldens))
    write_tokenizer_goldens(folder, AutoTokenizer.from_pretrained(folder))


# The size of every reference model, Llama or Qwen2: small enough to check in, with grouped-query
# attention (two heads share a key/value head). Eager attention is the plain reference to match.
TINY_SHAPE = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "attn_implementation": "eager",
}


def tiny_llama(vocab_size: int, bos: int, eos: int | list[int], **overrides) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=vocab_size,
        **TINY_SHAPE,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        bos_token_id=bos,
        eos_token_id=eos,
        **{"tie_word_embeddings": False, "max_position_embeddings": 128, **overrides},
    )
    return LlamaForCausalLM(config)


def tiny_qwen2(vocab_size: int, eos: int) -> Qwen2ForCausalLM:
    config = Qwen2Config(
        vocab_size=vocab_size,
        **TINY_SHAPE,
        max_position_embeddings=256,
        rms_norm_eps=1e-6,
        rope_theta=1000000.0,
        bos_token_id=None,
        eos_token_id=eos,
        tie_word_embeddings=False,
        use_sliding_window=False,
    )
    return Qwen2ForCausalLM(config)


def main() -> None:
    torch.manual_seed(0)
    base = train_byte_level_bpe()
    llama_tokenizer = tokenizer_flavour(base, add_bos=True)
    qwen_tokenizer = tokenizer_flavour(base, add_bos=False)
    vocab = base.get_vocab_size()
    bos, eos = base.token_to_id("<s>"), base.token_to_id("</s>")
    end_of_text, im_end = base.token_to_id("<|endoftext|>"), base.token_to_id("<|im_end|>")

    def llama_generation(eos_ids: int | list[int]) -> GenerationConfig:
        return GenerationConfig(bos_token_id=bos, eos_token_id=eos_ids, do_sample=False)

    def llama_spec(name: str, model: torch.nn.Module, dtype: torch.dtype, eos_ids, **extra):
        return Saved(
            name, model, llama_tokenizer, dtype, LLAMA_CHAT_TEMPLATE, "<s>", "</s>",
            llama_generation(eos_ids), **extra,
        )

    for name, dtype in [("tiny-llama", torch.float32), ("tiny-llama-f16", torch.float16)]:
        llama = tiny_llama(vocab, bos, eos)
        randomize(llama, seed=1)
        save_model(
            llama_spec(name, llama, dtype, eos, rope_parameters_layout=dtype != torch.float32)
        )

    # Llama 3 style: scaled RoPE, tied embeddings, head_dim wider than hidden/heads, two EOS ids.
    # With theta 1e4, head_dim 16 and original context 64 the RoPE wavelengths fall in all three
    # llama3 bands (kept, smoothly interpolated, divided by the factor).
    llama3 = tiny_llama(
        vocab, bos, [eos, im_end],
        head_dim=16,
        tie_word_embeddings=True,
        max_position_embeddings=512,
        rope_scaling={
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64,
        },
    )
    randomize(llama3, seed=2)
    save_model(llama_spec("tiny-llama3", llama3, torch.float32, [eos, im_end]))

    # Qwen2's vocabulary is padded past the tokenizer's, as in the released checkpoints.
    qwen_vocab = -(-vocab // 64) * 64
    assert qwen_vocab > vocab
    qwen_generation = GenerationConfig(
        bos_token_id=None, eos_token_id=[im_end, end_of_text], pad_token_id=end_of_text,
        do_sample=False,
    )
    for name, dtype, shard in [
        ("tiny-qwen2", torch.float32, None),
        ("tiny-qwen2-bf16", torch.bfloat16, None),
        ("tiny-qwen2-sharded", torch.float32, "40KB"),
    ]:
        qwen = tiny_qwen2(qwen_vocab, end_of_text)
        randomize(qwen, seed=3)
        save_model(
            Saved(
                name, qwen, qwen_tokenizer, dtype, QWEN_CHAT_TEMPLATE, None, "<|im_end|>",
                qwen_generation, max_shard_size=shard,
                rope_parameters_layout=dtype == torch.bfloat16,
                template_in_jinja_file=shard is not None,
            )
        )

    total = sum(path.stat().st_size for path in OUT.rglob("*") if path.is_file())
    print(f"wrote {OUT.relative_to(ROOT)}: {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
