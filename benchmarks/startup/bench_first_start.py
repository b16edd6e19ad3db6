"""First start from an empty cache, as a new store lives it: `shopbot serve --train` (what `make run` runs) with a
fresh `SHOPBOT_CACHE_DIR`, timed to the first `/health` 200 and to `/ready` 200, for the demo store and for a store
imported from two export files with `shopbot init` (a catalog CSV written from the public DummyJSON catalogue in a
shop's export style: no ids, prices like "$9.99", ratings like "4.6/5"; and the demo FAQ without its alternates).

    python benchmarks/startup/bench_first_start.py --json benchmarks/results/startup/first_start.json
    python benchmarks/startup/bench_first_start.py --stores imported

The served process's own lines (its progress) are kept in the report's `log_tail`. The machine's load average is
recorded beside the figures: on a shared machine they are pessimistic.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.reporting import write_report  # noqa: E402

DUMMYJSON = ROOT.parent / "shared" / "datasets" / "catalog" / "dummyjson_products.json"
SHOPBOT = [sys.executable, "-m", "bot.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return None


def write_exports(folder: Path) -> tuple[Path, Path]:
    """A catalog export and an FAQ export as a shop would hand them over (see the module's docstring)."""
    loaded = json.loads(DUMMYJSON.read_text(encoding="utf-8"))
    products = loaded["products"] if isinstance(loaded, dict) else loaded   # the file is the list itself
    catalog = folder / "products_export.csv"
    with catalog.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["Product Name", "Brand", "Category", "Sale Price", "Rating", "Stock", "Description",
                         "Image URL"])
        for p in products:
            writer.writerow([p["title"], p.get("brand", ""), p["category"].replace("-", " "), f"${p['price']:.2f} ",
                             f"{p['rating']:.1f}/5", p.get("stock", ""), p["description"], p.get("thumbnail", "")])
    faq = folder / "faq_export.csv"
    with (ROOT / "knowledge_base" / "demo" / "faq.csv").open(encoding="utf-8") as source, \
            faq.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["Question", "Answer"])
        for row in csv.DictReader(source):
            writer.writerow([row["question"], row["answer"]])
    return catalog, faq


def first_start(kb: Path | None, cache: Path, data: Path, limit_s: float) -> dict[str, Any]:
    """Serve with `--train` on an empty cache; seconds to /health and to /ready, and the process's last lines."""
    port = free_port()
    env = {**os.environ, "SHOPBOT_CACHE_DIR": str(cache), "SHOPBOT_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}
    log = data / "serve.log"
    command = [*SHOPBOT, "serve", "--train", "--port", str(port), *(["--kb", str(kb)] if kb else [])]
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    health = ready = None
    try:
        while time.monotonic() - started < limit_s and process.poll() is None:
            elapsed = time.monotonic() - started
            if health is None and status(f"http://127.0.0.1:{port}/health") == 200:
                health = elapsed
            if health is not None and status(f"http://127.0.0.1:{port}/ready") == 200:
                ready = elapsed
                break
            time.sleep(0.25)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    lines = log.read_text(errors="replace").splitlines()
    return {"health_s": None if health is None else round(health, 1),
            "ready_s": None if ready is None else round(ready, 1), "exit_code": process.returncode,
            "log_tail": [line for line in lines if "%" not in line or "done" in line][-25:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="demo,imported", help="comma-separated: demo, imported")
    parser.add_argument("--limit", type=float, default=1800, help="seconds to wait for /ready")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "startup" / "first_start.json")
    args = parser.parse_args()
    report: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} cpus, {platform.python_version()}",
                              "load_average_before": [round(x, 2) for x in os.getloadavg()], "stores": {}}
    for store in args.stores.split(","):
        with tempfile.TemporaryDirectory(prefix=f"first-start-{store}-") as tmp:
            tmp_path = Path(tmp)
            (tmp_path / "data").mkdir()
            row: dict[str, Any] = {}
            kb = None
            if store == "imported":
                catalog, faq = write_exports(tmp_path)
                kb = tmp_path / "my-store"
                began = time.monotonic()
                init = subprocess.run([*SHOPBOT, "init", str(kb), "--catalog", str(catalog), "--faq", str(faq),
                                       "--name", "Gadget Corner"], cwd=ROOT, capture_output=True, text=True)
                row["init_s"] = round(time.monotonic() - began, 1)
                row["init_exit_code"] = init.returncode
                row["init_output"] = (init.stdout + init.stderr).splitlines()[-20:]
                if init.returncode != 0:
                    report["stores"][store] = row
                    continue
            row.update(first_start(kb, tmp_path / "cache", tmp_path / "data", args.limit))
            if "init_s" in row and row["ready_s"] is not None:
                row["init_plus_first_start_s"] = round(row["init_s"] + row["ready_s"], 1)
            report["stores"][store] = row
            print(store, {k: v for k, v in row.items() if not isinstance(v, list)}, flush=True)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    write_report(args.json, report)


if __name__ == "__main__":
    main()
