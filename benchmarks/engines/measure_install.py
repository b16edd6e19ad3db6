"""Install cost of each CPU engine of the bake-off on this machine: wall time of `pip install --no-cache-dir` into
the project's venv (llama-cpp-python builds llama.cpp from source with the machine's cmake and g++) and the
installed size of the engine's own files (its RECORD), plus the packages it pulled in.

    python benchmarks/engines/measure_install.py --json benchmarks/results/engines/install.json

No `CMAKE_ARGS` are set: llama.cpp's CMake build is native by default (GGML_NATIVE=ON), which ties the built
wheel to this CPU. `CMAKE_BUILD_PARALLEL_LEVEL` is set to the machine's core count unless already set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINES = {"llama_cpp": "llama-cpp-python==0.3.36", "ctranslate2": "ctranslate2==4.8.5"}
SIZE_OF = ("import importlib.metadata as m, sys; d = m.distribution(sys.argv[1]); "
           "print(sum((f.locate().stat().st_size for f in d.files or [] if f.locate().is_file())))")


def installed(python: str, distribution: str) -> bool:
    return subprocess.run([python, "-m", "pip", "show", "-q", distribution], capture_output=True).returncode == 0


def measure(python: str, spec: str, reinstall: bool) -> dict:
    """Time one install and size what it put in the venv."""
    distribution = re.split(r"[=<>!~ ]", spec, maxsplit=1)[0]
    if installed(python, distribution):
        if not reinstall:
            raise SystemExit(f"{distribution} is already installed: pass --reinstall to measure a fresh install")
        subprocess.run([python, "-m", "pip", "uninstall", "-y", "-q", distribution], check=True)
    env = dict(os.environ)
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
    command = [python, "-m", "pip", "install", "--no-cache-dir", spec]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return {"spec": spec, "error": done.stderr.strip()[-800:], "install_s": round(seconds, 1)}
    pulled = next((line.split("Successfully installed", 1)[1].split() for line in done.stdout.splitlines()
                   if line.startswith("Successfully installed")), [])
    size = int(subprocess.run([python, "-c", SIZE_OF, distribution], capture_output=True, text=True,
                              check=True).stdout)
    built = "Building wheel" in done.stdout or "Building wheels" in done.stdout
    return {"spec": spec, "command": " ".join(["CMAKE_BUILD_PARALLEL_LEVEL=" + env["CMAKE_BUILD_PARALLEL_LEVEL"],
                                               *command[2:]]),
            "install_s": round(seconds, 1), "built_from_source": built, "installed_mb": round(size / 2**20, 1),
            "installed_packages": pulled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"))
    parser.add_argument("--reinstall", action="store_true", help="uninstall an engine already there first")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = json.loads(args.json.read_text()) if args.json and args.json.is_file() else {}
    report["machine"] = f"{platform.machine()}, {os.cpu_count()} cpus, shared with other sessions' work"
    for engine in args.engines.split(","):
        print(f"installing {ENGINES[engine]} ...", flush=True)
        report[engine] = measure(args.python, ENGINES[engine], args.reinstall)
        print(json.dumps(report[engine]), flush=True)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=2) + "\n")
    sys.exit(1 if any("error" in v for v in report.values() if isinstance(v, dict)) else 0)


if __name__ == "__main__":
    main()
