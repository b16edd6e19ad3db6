"""Choosing and opening the engine that runs the reply LM, from the settings (`responder.engine`).

`auto` picks, in order: `openai` when `responder.endpoint` is set; `transformers` when a LoRA adapter or a model
folder other than the packaged one is named (llama.cpp reads GGUF files only); `vllm` on CUDA when it is
installed (falling back to `transformers` fp16 when vLLM cannot load the model); else `llama_cpp`, the packaged
GGUF on the CPU (falling back to `transformers` if llama-cpp-python is missing).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from bot.generation.base import TextGenerator
from bot.responder.lm import DEFAULT_LM, converted_smollm2, load_language_model

log = logging.getLogger("shopbot.generation")
API_KEY_ENV = "SHOPBOT_RESPONDER_API_KEY"


def choose_engine(engine: str, model: str, device: str, endpoint: str | None, adapter: Path | None) -> str:
    """The engine `auto` stands for with these settings (other values are returned as they are)."""
    if engine != "auto":
        return engine
    if endpoint:
        return "openai"
    if adapter is not None or (model != DEFAULT_LM and not model.endswith(".gguf")):
        return "transformers"
    if device.startswith("cuda"):
        from bot.generation.vllm_backend import vllm_available

        return "vllm" if vllm_available() else "transformers"
    return "llama_cpp"


def open_generator(options: "ResponderSettings", device: str, cache_dir: Path,  # noqa: F821 - bot.config's type
                   adapter: Path | None = None) -> TextGenerator:
    """The text generator the responder settings describe, loaded and ready."""
    engine = choose_engine(options.engine, options.model, device, options.endpoint, adapter)
    if engine == "openai":
        if not options.endpoint:
            raise RuntimeError("responder.engine is `openai` but responder.endpoint is not set")
        from bot.generation.openai_backend import OpenAIGenerator

        return OpenAIGenerator(options.endpoint, options.remote_model, os.environ.get(API_KEY_ENV),
                               options.timeout_s, options.retries)
    if engine == "llama_cpp":
        if adapter is not None:
            raise RuntimeError("llama.cpp runs the packaged GGUF only: a LoRA adapter needs responder.engine: "
                               "transformers (or auto)")
        try:
            from bot.generation.llama_cpp_backend import LlamaCppGenerator
        except ImportError:
            if options.engine == "llama_cpp":
                raise RuntimeError("responder.engine is `llama_cpp` but llama-cpp-python is not installed; run "
                                   "`make setup`") from None
            log.warning("llama-cpp-python is not installed: the LM runs on transformers (slower)")
        else:
            gguf = requantized(model_file(options.model), options.quantization, cache_dir)
            return LlamaCppGenerator(gguf, threads=options.threads or None,
                                     context=options.prompt_tokens + options.max_new_tokens + 64)
    if engine == "vllm":
        from bot.generation.vllm_backend import VllmGenerator

        path = str(converted_smollm2(cache_dir)) if options.model == DEFAULT_LM else options.model
        try:
            return VllmGenerator(path)
        except Exception as exc:  # noqa: BLE001 - a model vLLM cannot load runs on transformers instead
            if options.engine == "vllm":
                raise RuntimeError(f"vLLM could not load {options.model}: {exc}") from exc
            log.warning("vLLM could not load %s (%s): the LM runs on transformers", options.model, exc)
    from bot.generation.transformers_backend import TransformersGenerator

    return TransformersGenerator(load_language_model(options.model, device, cache_dir, adapter=adapter))


def model_file(model: str) -> Path:
    """The GGUF file llama.cpp reads: the packaged SmolLM2, or a `.gguf` path."""
    if model == DEFAULT_LM:
        from bot.responder.lm import smollm2_gguf

        return smollm2_gguf()
    if model.endswith(".gguf") and Path(model).is_file():
        return Path(model)
    raise RuntimeError(f"llama.cpp reads GGUF files: responder.model '{model}' is not one (use engine: transformers)")


def requantized(gguf: Path, quantization: str, cache_dir: Path) -> Path:
    """`gguf` itself (`as_shipped`), or a copy re-quantised with llama.cpp's own quantiser, made once (under a
    second) and kept in the cache."""
    if quantization == "as_shipped":
        return gguf
    import ctypes

    import llama_cpp

    from retrieval.atomic import atomic_folder
    from retrieval.checksums import file_version_key

    folder = Path(cache_dir) / "lm" / f"{gguf.stem}-{quantization}-{file_version_key(gguf)}"
    target = folder / f"{gguf.stem}.{quantization}.gguf"
    if target.is_file():
        return target
    types = {"q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0, "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0}
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = types[quantization]
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    log.info("re-quantising %s to %s (once)", gguf.name, quantization)
    with atomic_folder(folder) as staging:
        status = llama_cpp.llama_model_quantize(str(gguf).encode(), str(staging / target.name).encode(),
                                                ctypes.byref(params))
        if status != 0:
            raise RuntimeError(f"llama.cpp could not re-quantise {gguf.name} to {quantization} (status {status})")
    return target
