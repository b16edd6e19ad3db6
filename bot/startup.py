"""A store's first start, in the background and in parallel: what `shopbot serve` runs while `/health` already
answers and `/ready` says what is still loading.

    knowledge base ──┬── nlu          (`shopbot train` in a child process when asked to train, then the parser)
                     ├── index        (the embedder, tuned on the FAQ once, and the search index)
                     └── responder    (the reply LM, when replies are generated)
                            └── engine (domain, actions, conversation store, recommender; one warm-up query)

NLU training runs in its own process (its own torch threads and random generators, so the model it trains is the
one a plain `shopbot train` would), the other steps in threads of this one. Each step's progress is a
`retrieval.progress` bar: a tqdm bar on a terminal, plain lines with an estimate otherwise.
"""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Settings
from retrieval.progress import active_tasks, duration

log = logging.getLogger("shopbot.startup")
STEPS = ("knowledge base", "nlu", "index", "responder", "engine")


class StartupFailed(RuntimeError):
    """A startup step failed; the message says which and why (no stack trace for data or settings problems)."""


@dataclass
class Step:
    name: str
    state: str = "waiting"          # waiting, running, done, failed
    detail: str = ""
    started: float | None = None
    ended: float | None = None

    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return round((self.ended or time.monotonic()) - self.started, 1)


@dataclass
class Startup:
    """Loads a store's bot in a background thread. `ready` once the bot is built; `failure` names the step that
    failed. `train`: train the NLU (and the recommender, when the store has a history) when their data changed,
    as `shopbot train` does, instead of serving without a model. `hold`: the engine step waits for this event (every
    other step runs first): a server kept starting for as long as one likes, to try its `starting` answers."""

    settings: Settings
    train: bool = False
    config_file: Path | None = None
    echo: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)
    hold: threading.Event | None = None
    steps: dict[str, Step] = field(default_factory=lambda: {name: Step(name) for name in STEPS})
    bot: Any = None
    failure: str | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    _done: threading.Event = field(default_factory=threading.Event)
    _listeners: list[Callable[[], None]] = field(default_factory=list)
    _child: subprocess.Popen | None = None

    # -- state ----------------------------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.bot is not None

    def loading(self) -> list[str]:
        """The steps not finished yet, with what each is doing (`nlu: training (shopbot train)`)."""
        return [f"{s.name}: {s.detail}" if s.detail else s.name for s in self.steps.values()
                if s.state in ("waiting", "running")]

    def busy(self) -> bool:
        """Whether a step is still running (in a thread of this process, or the training child)."""
        return any(s.state == "running" for s in self.steps.values())

    def report(self) -> dict[str, Any]:
        """What `/ready` and `/health` say while starting: each step, the progress bars in flight, time so far."""
        return {"status": "failed" if self.failure else "ready" if self.ready else "starting",
                "loading": self.loading(), "elapsed_s": round((self.finished or time.monotonic()) - self.started, 1),
                "steps": {s.name: {"state": s.state, **({"detail": s.detail} if s.detail else {}),
                                   **({"seconds": s.seconds()} if s.started is not None else {})}
                          for s in self.steps.values()},
                "progress": active_tasks(), **({"error": self.failure} if self.failure else {})}

    def on_done(self, listener: Callable[[], None]) -> None:
        """Call `listener` (from the startup thread) once the bot is ready or the start failed."""
        self._listeners.append(listener)
        if self._done.is_set():
            listener()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until ready or failed (True) or the timeout passes (False)."""
        return self._done.wait(timeout_s)

    # -- running --------------------------------------------------------------------------------------------------

    def start(self) -> threading.Thread:
        """Run every step in a background thread; returns it."""
        thread = threading.Thread(target=self.run, name="shopbot-startup", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """A server stopping before it was ready: stop the training child (the threads end with the process)."""
        child = self._child
        if child is not None and child.poll() is None:
            child.terminate()

    def run(self) -> None:
        try:
            kb = self._step("knowledge base", self._load_kb)
            import_libraries()
            pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="shopbot-start")
            nlu: Future = pool.submit(self._step, "nlu", lambda: self._nlu(kb))
            knowledge: Future = pool.submit(self._step, "index", lambda: self._index(kb, nlu))
            responder: Future = pool.submit(self._step, "responder", lambda: self._responder(kb))
            try:
                parts = [future.result() for future in first_failure_or_all([knowledge, nlu, responder])]
            except BaseException:
                self.stop()   # the training child; the threads still running end with the process
                raise
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
            if self.hold is not None:
                self.steps["engine"].detail = "held back (Startup.hold)"
                self.hold.wait()
            self.bot = self._step("engine", lambda: self._engine(*parts))
            self.finished = time.monotonic()
        except StartupFailed as exc:
            self.failure = str(exc)
            self.finished = time.monotonic()
        except Exception as exc:  # a bug: logged with its trace, reported as the step's failure
            log.exception("startup failed")
            self.failure = f"startup failed: {type(exc).__name__}: {exc}"
            self.finished = time.monotonic()
        finally:
            self._done.set()
            for listener in self._listeners:
                listener()

    def _step(self, name: str, work: Callable[[], Any]) -> Any:
        from retrieval.loaders import DataError

        step = self.steps[name]
        step.state, step.started = "running", time.monotonic()
        try:
            result = work()
        except StartupFailed:
            step.state = "failed"
            raise
        except (DataError, RuntimeError, OSError) as exc:
            step.state = "failed"
            raise StartupFailed(f"{name}: {exc}") from exc
        except Exception as exc:
            step.state = "failed"
            from bot.dialogue.errors import StateUnavailable, StoreRefused

            if isinstance(exc, (StoreRefused, StateUnavailable)):
                raise StartupFailed(f"{name}: {exc}") from exc
            raise
        step.state, step.ended = "done", time.monotonic()
        self.echo(f"Started {name} in {duration(step.ended - step.started)}"
                  + (f" ({step.detail})" if step.detail else ""))
        return result

    def _load_kb(self) -> Any:
        from retrieval.loaders import load_knowledge_base

        settings = self.settings
        kb = load_knowledge_base(settings.kb_dir, skip_bad_rows=settings.skip_bad_rows or None)
        if kb.load_report.skipped or kb.load_report.notes:
            self.echo(kb.load_report.describe())
        self.steps["knowledge base"].detail = (f"{len(kb.products)} products, {len(kb.faq)} FAQ entries, "
                                               f"{len(kb.policies)} policy sections")
        return kb

    def _nlu(self, kb: Any) -> Any:
        """The store's parser: trained first (a child `shopbot train`) when `train`, else the latest model or None."""
        from bot.nlu.model import ModelIntegrityError
        from bot.nlu.pipeline import latest_model, load_store_parser

        step = self.steps["nlu"]
        if self.train:
            step.detail = "training (shopbot train)"
            self._train_child()
        folder = latest_model(kb, self.settings.cache_dir)
        if folder is None:
            step.detail = "no model (run `shopbot train`): questions and products only, no order actions"
            return None
        step.detail = f"loading {folder.name}"
        try:
            parser = load_store_parser(kb, folder)
        except ModelIntegrityError as exc:
            raise StartupFailed(str(exc)) from None
        step.detail = folder.name
        return parser

    def _train_child(self) -> None:
        """`shopbot train --kb KB` in a child process (its output goes to ours); half the cores are its."""
        command = [sys.executable, "-m", "bot.cli", *(["--config", str(self.config_file)] if self.config_file else []),
                   "train", "--kb", str(self.settings.kb_dir)]
        env = {**os.environ, "SHOPBOT_CACHE_DIR": str(self.settings.cache_dir)}
        env.setdefault("OMP_NUM_THREADS", str(child_threads()))
        output = _fileno(sys.stderr)   # its lines (progress included) go where ours go
        self._child = subprocess.Popen(command, env=env, stdout=output, stderr=output)
        code = self._child.wait()
        if code != 0:
            raise StartupFailed(f"`shopbot train` exited with {code} (its messages are above)")

    def _index(self, kb: Any, nlu: Future) -> Any:
        """The embedder (tuned on the FAQ once) and the index, on the cores the NLU training leaves."""
        from retrieval.store import index_store

        step = self.steps["index"]
        restore = _share_cores(self.train and not nlu.done())
        try:
            knowledge = index_store(self.settings, kb, progress=True, stage=lambda name: setattr(step, "detail", name))
        finally:
            restore()
        step.detail = f"{'built' if knowledge.index_built else 'loaded'}, {len(knowledge.index)} passages"
        return knowledge

    def _responder(self, kb: Any) -> Any:
        from bot.app import load_responder

        step = self.steps["responder"]
        step.detail = "loading"
        responder = load_responder(self.settings, kb)
        step.detail = responder.describe()
        if responder.generator is None and self.settings.responder.mode == "auto":
            self.echo("Replies quote the store's own sentences; `shopbot train responder` tunes the LM to write them "
                      "(about 11 minutes on 2 cores), or set responder.mode: generate.")
        return responder

    def _engine(self, knowledge: Any, parser: Any, responder: Any) -> Any:
        from bot.app import build_bot, warm_up

        step = self.steps["engine"]
        step.detail = "domain, actions, conversations"
        bot = build_bot(self.settings, knowledge, responder, parser)
        step.detail = "warm-up query"
        warm_up(bot)
        step.detail = ""
        return bot


LIBRARIES = ("torch", "transformers", "transformers.modeling_utils", "sentence_transformers", "peft", "faiss",
             "llama_cpp", "bot.app", "bot.nlu.pipeline", "retrieval.index", "retrieval.products", "retrieval.store")


def import_libraries() -> None:
    """Import what the parallel steps use, in one thread, before they start: two threads importing the same package
    tree at once can be handed a partly initialised module (CI saw accelerate's `cannot import name
    'AcceleratorState' from partially initialized module` when the index and responder steps both reached
    transformers' PEFT integration). A library not installed is left to the step that needs it to report."""
    for name in LIBRARIES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


def first_failure_or_all(futures: list[Future]) -> list[Future]:
    """Wait until every future is done or one has failed; the futures to read (a failed one alone)."""
    from concurrent.futures import FIRST_EXCEPTION, wait

    done, _ = wait(futures, return_when=FIRST_EXCEPTION)
    failed = [f for f in done if f.exception() is not None]
    return failed[:1] if failed else futures


def _fileno(stream: Any) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # a stream without a file (a test's capture): inherit ours
        return None


def child_threads() -> int:
    """The torch threads of a training child running beside this process's work: half the cores (at least one)."""
    return max(1, (os.cpu_count() or 2) // 2)


def _share_cores(sharing: bool) -> Callable[[], None]:
    """While a training child runs, this process's torch uses the other half of the cores; returns the undo."""
    if not sharing:
        return lambda: None
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - child_threads()))
    return lambda: torch.set_num_threads(before)
