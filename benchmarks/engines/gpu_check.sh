#!/usr/bin/env bash
# The GPU check of the vLLM engine, run once on a machine with an NVIDIA GPU, from a copy of the repo:
#   bash benchmarks/engines/gpu_check.sh          (results in $OUT, else ./gpu_check_out)
# 1. records the machine (nvidia-smi -L) in $OUT/machine.txt;
# 2. makes .venv with `make setup` when it is missing, then installs vLLM into it together with the project, so
#    pip keeps the project's own pins (torch, transformers) or says that no vLLM release fits them;
# 3. runs the vLLM backend's tests (stream, abort on close, 8 concurrent streams), trains the demo NLU (as
#    `make bench` does first), then `shopbot bench` with 64 and 256 sessions of 4 turns on engine vllm.
# Every step has a timeout, and all of them together stay inside BUDGET_S (default 570 s), so whatever finished is
# in $OUT: gpu_check.log (every step's output and exit status), bench_64.json, bench_256.json and each bench's
# server log. It needs a package index for step 2; where none is reachable it says so and stops after step 1.
# Settings: PYTHON (for `make setup`, default python3.11), VLLM_SPEC (default vllm), BUDGET_S.
set -u
cd "$(dirname "$0")/../.."
OUT="${OUT:-$PWD/gpu_check_out}"
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
exec > >(tee -a "$LOG") 2>&1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
PYTHON="${PYTHON:-python3.11}"
VLLM_SPEC="${VLLM_SPEC:-vllm}"
DEADLINE=$((SECONDS + ${BUDGET_S:-570}))

# step NAME MAX_SECONDS COMMAND...: runs COMMAND under `timeout` (at most what the budget has left) and logs it.
step() {
    local name=$1 cap=$2 left=$((DEADLINE - SECONDS))
    shift 2
    if ((left < 15)); then
        echo "== $name: skipped, the time budget is spent"
        return 124
    fi
    ((cap > left)) && cap=$left
    echo "== $name (at most ${cap}s): $*"
    local started=$SECONDS rc=0
    timeout --kill-after=10 "$cap" "$@" || rc=$?
    echo "== $name: exit $rc after $((SECONDS - started))s$([ $rc = 124 ] && echo ' (timed out)')"
    return $rc
}

# bench SESSIONS: one `shopbot bench` on engine vllm; its server log (in its own temporary folder) is kept.
bench() {
    local tmp
    tmp=$(mktemp -d)
    SHOPBOT_RESPONDER__ENGINE=vllm SHOPBOT_RESPONDER_MODE=generate SHOPBOT_DEVICE=cuda TMPDIR="$tmp" \
        step "bench-$1" "$2" .venv/bin/shopbot bench --sessions "$1" --turns 4 --no-baseline --responder generate \
        --json "$OUT/bench_$1.json"
    local rc=$?
    for log in "$tmp"/shopbot-bench-*/shopbot/server.log; do
        [ -f "$log" ] && tail -c 4000000 "$log" > "$OUT/server_$1.log"
    done
    return $rc
}

echo "== gpu_check $(date -u +%FT%TZ) at $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
{
    timeout 30 nvidia-smi -L || echo "nvidia-smi -L failed"
    timeout 30 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    echo "cpus: $(nproc), python: $(command -v "$PYTHON" || echo "no $PYTHON") $(python3 --version 2>&1)"
} > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"

if [ ! -x .venv/bin/python ]; then
    if ! command -v "$PYTHON" >/dev/null; then
        echo "== stop: $PYTHON is not here and .venv is missing (the project needs Python 3.11; set PYTHON)"
        exit 2
    fi
    if ! step index 60 "$PYTHON" -m pip index versions "$VLLM_SPEC" --retries 0 --timeout 20; then
        echo "== stop: no package index answers from this machine, so neither the venv nor vLLM can be installed"
        exit 2
    fi
    step setup 300 make setup PYTHON="$PYTHON" || { echo "== stop: make setup failed"; exit 2; }
fi
step vllm-install 360 .venv/bin/pip install --quiet --retries 1 --timeout 30 -e . "$VLLM_SPEC" ||
    { echo "== stop: vLLM did not install"; exit 2; }
.venv/bin/python -c "import torch, transformers, vllm; print('vllm', vllm.__version__, '| torch', torch.__version__,
    '| transformers', transformers.__version__, '| cuda', torch.cuda.is_available())" ||
    { echo "== stop: vLLM does not import"; exit 2; }

step test-vllm 180 .venv/bin/python -m pytest tests/bot/generation/test_vllm_backend.py -q -rs -p no:cacheprovider
step train 150 .venv/bin/shopbot train
bench 64 240
bench 256 300
echo "== done after ${SECONDS}s; files in $OUT:"
ls -l "$OUT"
