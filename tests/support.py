"""Helpers the tests share: free ports and services, the demo order back-end, the test cache (the demo's index and
trained NLU, kept by data fingerprint), and real servers: an aiohttp app in-process (on the test's loop or in its
own thread), a stock rasa-sdk action server and `shopbot serve` as processes.

Importing this module loads nothing heavy (no model code, no aiohttp): the fault harness, the replica harness and
the benchmarks import it too.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from actions.store_backend import SqliteStoreBackend

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEMO_ORDERS = PROJECT_ROOT / "knowledge_base" / "demo" / "orders.json"
DEMO_TODAY = "2026-11-23T12:00:00-05:00"   # the demo orders' clock (`SHOPBOT_TODAY` for server processes)
POSTGRES_URL = os.environ.get("SHOPBOT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SHOPBOT_TEST_REDIS", "redis://127.0.0.1:6379/0")
START_DEADLINE_S = 600   # a deadline for "never came up", not a measurement: a busy CI machine starts slowly


# -- ports and services -------------------------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on `host:port`."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def need(port: int, name: str) -> None:
    """Skip where the service does not run; fail instead when SHOPBOT_REQUIRE_SERVICES=1 (as CI sets)."""
    import pytest

    if not listening(port):
        if os.environ.get("SHOPBOT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{name} is required (SHOPBOT_REQUIRE_SERVICES=1) but nothing listens on port {port}")
        pytest.skip(f"no {name} on 127.0.0.1:{port}")


def wait_http(url: str, process: subprocess.Popen, log: Path, deadline_s: float = START_DEADLINE_S) -> None:
    """Until `url` answers 200; an error with the log's tail if the process exits first or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}: {log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"{url} never answered within {deadline_s:.0f} s: {tail}")


# -- the test cache and the demo back-end -------------------------------------------------------------------------

def test_cache_dir() -> Path:
    """`.shopbot_cache/tests` (or `SHOPBOT_TEST_CACHE`): the demo's index and NLU, kept by data fingerprint, so
    they are built once per machine; shared by the fixtures and the tests that start real server processes."""
    return Path(os.environ.get("SHOPBOT_TEST_CACHE") or PROJECT_ROOT / ".shopbot_cache" / "tests")


test_cache_dir.__test__ = False  # a helper, not a test, despite its name


def project_caches() -> list[Path]:
    """Where `make run` and `shopbot train` keep their models: `SHOPBOT_CACHE_DIR` when set, and `.shopbot_cache`."""
    caches = [Path(os.environ["SHOPBOT_CACHE_DIR"])] if os.environ.get("SHOPBOT_CACHE_DIR") else []
    return [*caches, PROJECT_ROOT / ".shopbot_cache"]


def reuse_trained_nlu(kb: Any, cache_dir: Path, sources: list[Path] | None = None, config: Any = None) -> Path | None:
    """The folder `train_store_nlu(kb, cache_dir)` would use, filled from another cache (`project_caches()`) that
    already holds an intact model for exactly this data (same fingerprint: data, training settings, encoder),
    so the tests do not train again what `make run` trained; None when no cache has one."""
    import shutil

    from bot.nlu.model import ModelIntegrityError, verify_model
    from bot.nlu.pipeline import fingerprint, load_training_data, model_folder
    from bot.nlu.trainer import TrainConfig
    from retrieval.atomic import atomic_folder
    from retrieval.embeddings import resolve_model

    intents, sentiment, rules = load_training_data(kb)
    wanted = fingerprint(intents, sentiment, rules, config or TrainConfig(), resolve_model(None)[1])
    target = model_folder(cache_dir, kb, wanted)
    if (target / "metadata.json").is_file():
        return target
    for source in [model_folder(c, kb, wanted) for c in (project_caches() if sources is None else sources)]:
        if source.resolve() == target.resolve() or not (source / "metadata.json").is_file():
            continue
        try:
            verify_model(source)
        except ModelIntegrityError:
            continue
        with atomic_folder(target) as staging:
            shutil.copytree(source, staging, dirs_exist_ok=True)
        return target
    return None


def prepare_demo_nlu(cache_dir: Path, say: Callable[[str], None]) -> Path:
    """The demo's trained NLU in `cache_dir`: kept there by fingerprint, else copied from the project cache, else
    trained once, with progress lines (a first training takes minutes on a busy machine)."""
    from bot.config import DEMO_KB
    from bot.nlu.pipeline import train_store_nlu
    from retrieval.loaders import load_knowledge_base

    kb = load_knowledge_base(DEMO_KB)
    reused = reuse_trained_nlu(kb, cache_dir)
    if reused is not None:
        return reused
    started = time.monotonic()
    say(f"Training the demo NLU once into {cache_dir} (reused by fingerprint afterwards) ...")
    folder, _, _ = train_store_nlu(kb, cache_dir, progress=True)
    say(f"Demo NLU trained in {time.monotonic() - started:.0f} s: {folder}")
    return folder


def demo_clock() -> datetime:
    """The demo orders' "now": 2026-11-23 12:00 (New York), so return windows and shipping states never drift."""
    return datetime.fromisoformat(DEMO_TODAY)


def demo_backend(path: str | Path = ":memory:", backend: type[SqliteStoreBackend] | None = None,
                 clock: Callable[[], datetime] | None = demo_clock) -> SqliteStoreBackend:
    """The demo orders as shipped in a SQLite order back-end (`backend`, default `SqliteStoreBackend`; in memory
    unless `path`), with the demo clock (`clock=None`: the back-end's own)."""
    from actions.store_backend import SqliteStoreBackend

    options = {"clock": clock} if clock is not None else {}
    return (backend or SqliteStoreBackend).from_orders_file(DEMO_ORDERS, path, **options)


# -- aiohttp apps in-process --------------------------------------------------------------------------------------

@asynccontextmanager
async def running_app(app: web.Application) -> AsyncIterator[TestServer]:
    """`app` served on a free port of the running event loop; `server.make_url("/path")`; closed afterwards."""
    from aiohttp.test_utils import TestServer

    server = TestServer(app)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def bot_app(engine: Any, store: Any, settings: Any = None) -> web.Application:
    """The whole HTTP app (`bot.server.create_app`) around `engine` and the opened `store`, with extractive replies
    and the given settings (default `Settings()`)."""
    from bot.app import StoreBot
    from bot.config import Settings
    from bot.responder.responder import Responder
    from bot.server import create_app

    return create_app(StoreBot(engine, store, Responder(None), None), settings or Settings())


@contextmanager
def app_in_thread(make_app: Callable[[], web.Application], port: int | None = None,
                  deadline_s: float = 60) -> Iterator[str]:
    """An aiohttp app served from its own thread and event loop (for clients that are not asyncio: a browser, a
    blocking HTTP client); yields the base URL. `make_app` runs inside that loop."""
    from aiohttp import web

    port = port or free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            runner = web.AppRunner(make_app())
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        except BaseException as exc:  # reported to the test below, not lost in the thread
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name=f"app-{port}", daemon=True)
    thread.start()
    if not started.wait(deadline_s):
        raise RuntimeError(f"the app on port {port} did not start within {deadline_s:.0f} s")
    if failure:
        raise RuntimeError(f"the app on port {port} did not start") from failure[0]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


# -- server processes ---------------------------------------------------------------------------------------------

def stop_process_group(process: subprocess.Popen, timeout_s: float = 30) -> None:
    """SIGCONT and SIGTERM to the process group of a process started with `start_new_session=True` (a server and
    the worker it forked), SIGKILL for whatever is still there after `timeout_s`."""
    if process.poll() is not None:
        return
    for number in (signal.SIGCONT, signal.SIGTERM):
        os.killpg(process.pid, number)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)


class ActionServer:
    """`python -m rasa_sdk --actions actions` on a free (or given) port, its output in a log file in `folder`.
    `store_db`: an order back-end file the server uses (`SHOPBOT_STORE_DB`); without one it opens the demo orders.
    `with ActionServer(folder) as server:` starts and stops it; `start`, `signal`, `kill` and `stop` serve the
    fault tests."""

    def __init__(self, folder: Path, store_db: Path | None = None, port: int | None = None,
                 env: dict[str, str] | None = None):
        self.folder = folder
        self.store_db = store_db
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "SHOPBOT_TODAY": DEMO_TODAY, "PYTHONPATH": str(PROJECT_ROOT),
                    "SHOPBOT_DATA_DIR": str(folder / "data"), "SHOPBOT_CACHE_DIR": str(test_cache_dir()),
                    **({"SHOPBOT_STORE_DB": str(store_db)} if store_db is not None else {}), **(env or {})}
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.folder / f"actions-{self.starts}.log"

    def start(self, deadline_s: float = START_DEADLINE_S) -> None:
        """Start the server and wait until its `/health` answers."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log.open("wb") as output:  # a file, not a pipe: an unread pipe would fill up and stall the server
            self.process = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port",
                                             str(self.port)], cwd=PROJECT_ROOT, env=self.env, stdout=output,
                                            stderr=subprocess.STDOUT, start_new_session=True)  # sanic forks a worker
        try:
            wait_http(f"{self.url}/health", self.process, self.log, deadline_s)
        except RuntimeError:
            self.kill()
            raise

    def signal(self, number: int) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, number)   # the server and its worker process

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)

    def __enter__(self) -> ActionServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of a `shopbot serve` under test: the demo store from the test cache (no fine-tuning),
    extractive replies, conversations in `data_dir`, unbuffered logs; `overrides` are added last."""
    return {**os.environ, "SHOPBOT_CACHE_DIR": str(test_cache_dir()), "SHOPBOT_FINETUNE": "false",
            "SHOPBOT_RESPONDER_MODE": "extractive", "SHOPBOT_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1",
            **overrides}


def start_serve(port: int, log: Path, env: dict[str, str], config: Path | None = None,
                cwd: Path = PROJECT_ROOT) -> subprocess.Popen:
    """`shopbot [--config FILE] serve --port PORT` as a process, its output in `log`; wait for it with
    `wait_http(f"http://127.0.0.1:{port}/ready", process, log)`."""
    command = [sys.executable, "-m", "bot.cli", *(["--config", str(config)] if config else []), "serve",
               "--port", str(port)]
    with log.open("wb") as output:  # the child keeps its own copy of the file
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)


# -- files --------------------------------------------------------------------------------------------------------

def write(path: Path, text: str) -> Path:
    """`text` written to `path` (UTF-8), its folders made first; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def own_recommender() -> Iterator[None]:
    """For a test server built in this process: the actions' recommender it installs is replaced, afterwards, by
    the one installed before (another server of the process, `live_server` say, keeps using its own)."""
    from actions.services import installed_recommender, set_recommender

    previous = installed_recommender()
    try:
        yield
    finally:
        set_recommender(previous)
