"""Where a generated reply's time goes: prefill per prompt length, and one decode step per batch size (with the
padding a batch of replies of different lengths has), for Transformers' "sdpa" attention and ours.

    python benchmarks/profile/profile_generation.py --json benchmarks/results/profile/generation.json

The model is the default responder LM (SmolLM2-135M-Instruct, fp32 on the CPU); prompts are random token ids.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.inference.attention import use_gqa_attention  # noqa: E402
from bot.reporting import write_report  # noqa: E402
from bot.responder.lm import load_language_model  # noqa: E402


def prefill_ms(model: torch.nn.Module, length: int, repeats: int) -> float:
    ids = torch.randint(100, 40000, (1, length))
    times = []
    with torch.inference_mode():
        model(ids, logits_to_keep=1)
        for _ in range(repeats):
            started = time.perf_counter()
            model(ids, use_cache=True, logits_to_keep=1)
            times.append(time.perf_counter() - started)
    return round(sorted(times)[len(times) // 2] * 1000, 1)


def decode_step_ms(model: torch.nn.Module, batch: int, length: int, padded: bool, steps: int) -> float:
    """Median time of one greedy step for `batch` replies whose caches hold `length` positions; `padded` leaves
    the first 8 positions of every row masked, as in a batch of replies of different lengths."""
    ids = torch.randint(100, 40000, (batch, length))
    mask = torch.ones((batch, length), dtype=torch.long)
    if padded:
        mask[:, :8] = 0
    times = []
    with torch.inference_mode():
        out = model(ids, attention_mask=mask, use_cache=True, logits_to_keep=1)
        cache, token = copy.deepcopy(out.past_key_values), out.logits[:, -1].argmax(-1, keepdim=True)
        positions = mask.sum(1, keepdim=True)
        for step in range(steps):
            mask = torch.cat([mask, torch.ones((batch, 1), dtype=torch.long)], dim=1)
            started = time.perf_counter()
            out = model(input_ids=token, attention_mask=mask if padded else None, position_ids=positions + step,
                        past_key_values=cache, use_cache=True, logits_to_keep=1)
            times.append(time.perf_counter() - started)
            token = out.logits[:, -1].argmax(-1, keepdim=True)
    return round(sorted(times[2:])[len(times[2:]) // 2] * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", default="100,200,400")
    parser.add_argument("--batches", default="1,4,8,12,16")
    parser.add_argument("--context", type=int, default=300, help="cached positions during the decode steps")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    lm = load_language_model("smollm2", "cpu", ROOT / ".shopbot_cache")
    model = lm.model
    report: dict = {"model": lm.name, "device": "cpu", "torch_threads": torch.get_num_threads(),
                    "machine": f"{platform.machine()}, {os.cpu_count()} cpus", "prefill_ms": {}, "decode_step_ms": {}}
    for length in map(int, args.lengths.split(",")):
        report["prefill_ms"][length] = prefill_ms(model, length, 3)
        print(f"prefill {length} tokens: {report['prefill_ms'][length]} ms", flush=True)
    batches = list(map(int, args.batches.split(",")))
    for attention in ("sdpa", "gqa_sdpa"):
        if attention == "gqa_sdpa" and not use_gqa_attention(model):
            break
        rows = report["decode_step_ms"][attention] = {}
        for batch in batches:
            for padded in (False, True):
                key = f"{batch}{' padded' if padded else ''}"
                rows[key] = decode_step_ms(model, batch, args.context, padded, args.steps)
                print(f"{attention} decode step, batch {key}: {rows[key]} ms "
                      f"({round(batch / rows[key] * 1000)} tokens/s)", flush=True)
    write_report(args.json, report)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
