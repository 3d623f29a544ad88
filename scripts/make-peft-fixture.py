"""Writes a LoRA adapter made by PEFT itself, and the logits it gives, under tests/fixtures/peft/.

The adapter sits on `tests/fixtures/models/tiny-qwen2` (q/k/v biases, so the adapter's delta is
added to a biased output) with targets q_proj, v_proj and down_proj, r = 4 and lora_alpha = 12
(scale 3, so a wrong scale shows). PEFT initialises B to zero; B gets seeded noise so the adapter
changes the logits. Files:

- tiny-qwen2-lora/adapter_config.json, adapter_model.safetensors: exactly as
  `PeftModel.save_pretrained` writes them (base_model_name_or_path set to the fixture's folder
  name; the generated model card is left out);
- tiny-qwen2-lora/expected.json: the input ids [2, 7];
- tiny-qwen2-lora/expected.safetensors: the float32 `logits` [2, 7, vocab] of base + adapter in
  eval mode, and `base_logits` of the base model alone.

Tests read these files and never run Python. To regenerate:

    /path/to/venv/bin/pip install torch transformers peft safetensors
    /path/to/venv/bin/python scripts/make-peft-fixture.py

Check that an adapter exported by this project loads in PEFT and gives the logits it computed:

    /path/to/venv/bin/python scripts/make-peft-fixture.py --check ADAPTER_DIR LOGITS.safetensors

where LOGITS.safetensors holds the `logits` this project computed for expected.json's input ids,
and that a merged model it exported (config.json + model.safetensors) loads in transformers:

    /path/to/venv/bin/python scripts/make-peft-fixture.py --check-merged MODEL_DIR LOGITS.safetensors

`npx tsx scripts/export-peft-check.ts OUT_DIR` writes both.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "tests" / "fixtures" / "models" / "tiny-qwen2"
OUT = ROOT / "tests" / "fixtures" / "peft" / "tiny-qwen2-lora"
INPUT_IDS = [[5, 17, 42, 99, 7, 250, 13], [300, 3, 8, 64, 128, 1, 77]]


def load_base() -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32).eval()


def logits_of(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).logits.float().contiguous()


def make() -> None:
    torch.manual_seed(0)
    ids = torch.tensor(INPUT_IDS, dtype=torch.int64)
    base = load_base()
    base_logits = logits_of(base, ids)
    config = LoraConfig(
        r=4,
        lora_alpha=12,
        lora_dropout=0.05,
        target_modules=["q_proj", "v_proj", "down_proj"],
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, config)
    generator = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    model.eval()
    logits = logits_of(model, ids)
    OUT.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(OUT)
    (OUT / "README.md").unlink()
    (OUT / "expected.json").write_text(json.dumps({"input_ids": INPUT_IDS}) + "\n")
    config_path = OUT / "adapter_config.json"
    saved = json.loads(config_path.read_text())
    saved["base_model_name_or_path"] = BASE.name
    config_path.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
    save_file(
        {"logits": logits, "base_logits": base_logits},
        str(OUT / "expected.safetensors"),
    )
    print(f"wrote {OUT}; max |logits - base| = {(logits - base_logits).abs().max():.4f}")


def check(adapter_dir: str, logits_path: str) -> None:
    ids = torch.tensor(INPUT_IDS, dtype=torch.int64)
    ours = load_file(logits_path)["logits"]
    model = PeftModel.from_pretrained(load_base(), adapter_dir).eval()
    logits = logits_of(model, ids)
    difference = (logits - ours).abs().max().item()
    base_difference = (logits_of(load_base(), ids) - logits).abs().max()
    print(f"PEFT loaded {adapter_dir}: max |PEFT logits - ours| = {difference:.3g} "
          f"(the adapter moves logits by up to {base_difference:.3g})")
    sys.exit(0 if difference < 1e-4 else 1)


def check_merged(model_dir: str, logits_path: str) -> None:
    ids = torch.tensor(INPUT_IDS, dtype=torch.int64)
    ours = load_file(logits_path)["logits"]
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    difference = (logits_of(model, ids) - ours).abs().max().item()
    print(f"transformers loaded {model_dir}: max |its logits - ours| = {difference:.3g}")
    sys.exit(0 if difference < 1e-4 else 1)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--check":
        check(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "--check-merged":
        check_merged(sys.argv[2], sys.argv[3])
    else:
        make()
