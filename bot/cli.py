"""`shopbot`: the command line (init, chat, index, search, products, validate, eval)."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import click

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bot.config import ConfigError, Settings, load_settings  # noqa: E402
from bot.dialogue.errors import StateUnavailable, StoreRefused  # noqa: E402
from bot.reporting import write_report  # noqa: E402
from retrieval.loaders import DataError  # noqa: E402


class UserError(click.ClickException):
    """A problem the user can fix (bad data, bad configuration); printed without a traceback."""

    exit_code = 2


def _settings(ctx: click.Context, kb: Path | None = None) -> Settings:
    try:
        return load_settings(ctx.obj.get("config"), kb_dir=kb)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def _open(settings: Settings):
    from bot.knowledge import index_folder, open_store

    try:
        started = time.perf_counter()
        click.echo(f"Loading store from {settings.kb_dir} ...", err=True)
        store = open_store(settings, progress=True)  # a bar on a terminal, plain lines otherwise
    except DataError as exc:
        raise UserError(str(exc)) from None
    verb = "built" if store.index_built else "loaded"
    if store.kb.load_report.skipped or store.kb.load_report.notes:
        click.echo(store.kb.load_report.describe(), err=True)
    click.echo(f"{store.kb.name}: {len(store.kb.products)} products, {len(store.kb.faq)} FAQ entries, "
               f"{len(store.kb.policies)} policy sections; index {verb} in {time.perf_counter() - started:.1f}s "
               f"({index_folder(settings, store.kb)})", err=True)
    return store


SHUTDOWN_GRACE_S = 3.0  # after the drain: how long aiohttp waits for a handler before and after cancelling it
kb_option = click.option("--kb", type=click.Path(path_type=Path, file_okay=False), default=None,
                         help="Knowledge-base folder (default: the demo store).")
skip_option = click.option("--skip-bad-rows", is_flag=True, default=False,
                           help="Load the good catalog and FAQ rows and list each bad one (file, line, field).")


def _skipping(settings: Settings, skip_bad_rows: bool) -> Settings:
    return settings.model_copy(update={"skip_bad_rows": True}) if skip_bad_rows else settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="YAML settings file (default: ./shopbot.yml if present).")
@click.version_option(package_name="shopbot")
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """Self-hosted customer-service chatbot for online stores."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("shopbot").setLevel(logging.INFO)
    ctx.ensure_object(dict)["config"] = config


@main.command()
@kb_option
@click.option("--sender", default="terminal", show_default=True, help="Conversation id (the same id continues a chat).")
@click.option("--url", help="Chat with a running `shopbot serve` at this address instead (e.g. http://localhost:5005).")
@click.option("--token", help="The server's auth token, if it has one.")
@click.pass_context
def chat(ctx: click.Context, kb: Path | None, sender: str, url: str | None, token: str | None) -> None:
    """Chat in the terminal with the store's bot (in-process, or a running server with --url)."""
    from bot.channels.terminal import LocalChat, RemoteChat, run_chat

    settings = _settings(ctx, kb)
    if url:
        run_chat(RemoteChat(url, token or settings.server.auth_token), url)
        return
    bot = _load_bot(settings, need_nlu=False)
    run_chat(LocalChat(bot.engine, sender), bot.knowledge.kb.name)


def _load_bot(settings: Settings, need_nlu: bool, conversations: Any = None) -> Any:
    """The store's bot for the CLI: knowledge, NLU (when trained), responder, domain and actions."""
    from bot.app import build_bot, load_responder
    from bot.nlu.pipeline import latest_model, load_store_parser

    store = _open(settings)
    folder = latest_model(store.kb, settings.cache_dir)
    from bot.nlu.model import ModelIntegrityError

    try:
        parser = load_store_parser(store.kb, folder) if folder is not None else None
    except ModelIntegrityError as exc:  # damaged weights: says to run `shopbot train --force`
        raise UserError(str(exc)) from None
    if parser is None:
        if need_nlu:
            raise UserError("No NLU model for this store yet: run `shopbot train` first.")
        click.echo("No NLU model yet (run `shopbot train`): without intents the bot answers questions and shows "
                   "products, but cannot run order actions.", err=True)
    started = time.perf_counter()
    try:
        responder = load_responder(settings, store.kb)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"Responder: {responder.describe()} ({time.perf_counter() - started:.1f}s)", err=True)
    if responder.generator is None and settings.responder.mode == "auto":
        click.echo("Replies quote the store's own sentences; `shopbot train responder` tunes the LM to write them "
                   "(about 11 minutes on 2 cores), or set responder.mode: generate.", err=True)
    try:
        return build_bot(settings, store, responder, parser, store=conversations)
    except DataError as exc:
        raise UserError(str(exc)) from None
    except (StoreRefused, StateUnavailable) as exc:  # database in use without Redis, damaged, or unreachable
        raise UserError(str(exc)) from None


@main.command()
@kb_option
@click.option("--host", help="Address to listen on (default 127.0.0.1; 0.0.0.0 for every interface).")
@click.option("--port", type=int, help="Port (default 5005).")
@skip_option
@click.option("--train", is_flag=True, help="Train the NLU (and the recommender) first when their data changed, "
              "as `shopbot train` does, while the port already answers (what `make run` does).")
@click.pass_context
def serve(ctx: click.Context, kb: Path | None, host: str | None, port: int | None, skip_bad_rows: bool,
          train: bool) -> None:
    """Serve the bot: /ws, Rasa REST, /health, /ready, /metrics. The port answers at once: /health 200, /ready 503
    with what is still loading (NLU, embedder, index, LM: in parallel), the chat a `starting` error until ready."""
    from bot import logs
    from bot.server import check_settings
    from bot.serving import run_starting, urls_banner
    from bot.startup import Startup

    settings = _skipping(_settings(ctx, kb), skip_bad_rows)
    options = settings.server.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v is not None})
    settings = settings.model_copy(update={"server": options})
    try:
        check_settings(settings)  # a messenger token without its secret: refuse before loading the models
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    startup = Startup(settings, train=train, config_file=ctx.obj.get("config"),
                      echo=lambda line: click.echo(line, err=True))
    click.echo(f"Starting {settings.kb_dir} on http://{options.host}:{options.port}/ (/health answers now, /ready "
               f"once the models are loaded) ...", err=True)

    def ready() -> None:
        logs.configure()
        click.echo(f"Ready in {startup.report()['elapsed_s']:.1f}s.\n{urls_banner(settings)}", err=True)

    # SIGTERM: stop listening, give the turns in flight `server.shutdown_timeout_s` to finish and be delivered,
    # close the sockets, exit; aiohttp then only has to cancel what is left, within a short grace.
    stopped_cleanly = run_starting(startup, settings, options.host, options.port, SHUTDOWN_GRACE_S, on_ready=ready)
    if startup.failure and not startup.busy():
        raise UserError(startup.failure)
    if startup.failure or not startup.ready:   # failed, or stopped while starting, with steps still running
        if startup.failure:
            click.echo(f"Error: {startup.failure}", err=True)
        logging.shutdown()
        os._exit(UserError.exit_code if startup.failure else 0)  # not waiting for an index build in a thread
    if not stopped_cleanly:
        click.echo("Stopped with turns still running; exiting now.", err=True)
        logging.shutdown()
        os._exit(1)  # a turn outlived the timeout (an LM reply in a worker thread): do not wait for it


@main.group(name="train", invoke_without_command=True)
@kb_option
@click.option("--force", is_flag=True, help="Train even when the data has not changed.")
@click.pass_context
def train_group(ctx: click.Context, kb: Path | None, force: bool) -> None:
    """Train the store's models (`shopbot train` alone trains the NLU and, when the store has a shopping history,
    the recommender)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(train_nlu_command, kb=kb, force=force)
        ctx.invoke(train_recommender_command, kb=kb, force=force, quiet_without_history=True)


@train_group.command(name="nlu")
@kb_option
@click.option("--force", is_flag=True, help="Train even when the data has not changed.")
@click.pass_context
def train_nlu_command(ctx: click.Context, kb: Path | None, force: bool) -> None:
    """Validate nlu.yml and sentiment data, then fine-tune the intent + sentiment BERT."""
    from bot.nlu.pipeline import train_store_nlu
    from retrieval.loaders import load_knowledge_base

    settings = _settings(ctx, kb)
    try:
        store = load_knowledge_base(settings.kb_dir)
        folder, metadata, trained = train_store_nlu(store, settings.cache_dir, force=force, progress=True)
    except DataError as exc:
        raise UserError(str(exc)) from None
    state = f"trained in {metadata['train_seconds']} s" if trained else "up to date (data unchanged)"
    click.echo(f"NLU model {state}: {folder}")
    click.echo(json.dumps({"intents": len(metadata["intents"]), "examples": metadata["n_intent_examples"],
                           "sentiment_examples": metadata["n_sentiment_examples"],
                           "oos_threshold": round(metadata["oos_threshold"], 3), **metadata["metrics"]}))


def _store_with_history(settings: Settings, purpose: str, required: bool = True) -> Any:
    """The store's knowledge base when it has a shopping history; without one a `UserError` saying so (None when
    not `required`); a `UserError` listing the problems of bad data."""
    from retrieval.loaders import load_knowledge_base

    try:
        store = load_knowledge_base(settings.kb_dir)
    except DataError as exc:
        raise UserError(str(exc)) from None
    if store.history:
        return store
    if required:
        raise UserError(f"{settings.kb_dir}: no shopping history (history.csv with shopper, timestamp, event, "
                        f"product_id) {purpose}")
    return None


@train_group.command(name="recommender")
@kb_option
@click.option("--force", is_flag=True, help="Train even when the data has not changed.")
@click.pass_context
def train_recommender_command(ctx: click.Context, kb: Path | None, force: bool,
                              quiet_without_history: bool = False) -> None:
    """Train the personal recommender (a sequential model over what shoppers viewed, carted and bought) on the
    store's history.csv; cached by a fingerprint of the catalog and the history."""
    from retrieval.sequential.store import train_store_recommender

    settings = _settings(ctx, kb)
    store = _store_with_history(settings, "to train a recommender on", required=not quiet_without_history)
    if store is None:
        return
    click.echo(f"Recommender for {len(store.history)} history events ...", err=True)
    trained = train_store_recommender(store, settings.cache_dir, force=force, progress=True)
    assert trained is not None
    folder, manifest, fresh = trained
    state = f"trained in {manifest['train_seconds']} s" if fresh else "up to date (data unchanged)"
    click.echo(f"Recommender {state}: {folder}")
    click.echo(json.dumps({k: manifest[k] for k in ("shoppers", "products", "epochs_run", "train_seconds")}))


@train_group.command(name="responder")
@kb_option
@click.option("--steps", type=int, default=None, help="Optimizer steps (default: 60 on a CPU, 400 on a GPU).")
@click.option("--full", is_flag=True, help="Train every weight instead of a LoRA adapter.")
@click.pass_context
def train_responder_command(ctx: click.Context, kb: Path | None, steps: int | None, full: bool) -> None:
    """Fine-tune the reply LM on questions, sources and answers built from the store (LoRA by default)."""
    from dataclasses import replace

    from bot.responder.lm import load_language_model
    from bot.responder.training import ResponderTrainConfig, adapter_folder, build_examples, train_responder
    from retrieval.device import resolve_device
    from retrieval.loaders import load_knowledge_base

    settings = _settings(ctx, kb)
    try:
        store = load_knowledge_base(settings.kb_dir)
        lm = load_language_model(settings.responder.model, resolve_device(settings.device), settings.cache_dir)
    except DataError as exc:
        raise UserError(str(exc)) from None
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    config = ResponderTrainConfig(lora=not full)
    config = replace(config, steps=steps or (config.steps if lm.device == "cpu" else 400))
    examples = build_examples(store, config)
    folder = adapter_folder(settings.cache_dir, lm, examples, config)
    if (folder / "responder.json").is_file():
        click.echo(f"Responder adapter up to date: {folder}")
        return
    click.echo(f"Training the responder on {len(examples)} examples, {config.steps} steps on {lm.device} ...", err=True)
    metadata = train_responder(lm, examples, folder, config, progress=True,
                               prompt_tokens=settings.responder.prompt_tokens)
    click.echo(f"Responder adapter trained in {metadata['train_seconds']} s: {folder}")
    click.echo(json.dumps({k: metadata[k] for k in ("examples", "first_loss", "last_loss", "device")}))


@main.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option("--catalog", "catalog", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="The catalog export (.csv, .json, .jsonl): Shopify, WooCommerce or any product list.")
@click.option("--faq", "faq", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="The FAQ (.csv, .yml, .json) with question and answer columns.")
@click.option("--policies", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="A folder of policy pages (.md, .txt).")
@click.option("--preset", type=click.Choice(["auto", "shopify", "woocommerce"]), default="auto", show_default=True,
              help="The catalog's platform (auto: detected from the headers, else columns matched by name).")
@click.option("--name", help="The store's name (default: from the folder's name).")
@click.option("--link", is_flag=True, help="Link the files into the folder instead of copying them.")
@click.option("--force", is_flag=True, help="Replace a store already in the folder.")
@skip_option
def init(folder: Path, catalog: Path, faq: Path, policies: Path | None, preset: str, name: str | None, link: bool,
         force: bool, skip_bad_rows: bool) -> None:
    """Make a store folder from a catalog export and an FAQ: store.yml with the detected columns, validated."""
    from bot.scaffold import ScaffoldError, describe, init_store

    try:
        result = init_store(folder, catalog, faq, policies, preset, name, link, skip_bad_rows, force)
    except (ScaffoldError, DataError) as exc:
        raise UserError(str(exc)) from None
    click.echo(describe(result))
    if not result.ok:
        raise SystemExit(UserError.exit_code)


@main.command()
@kb_option
@skip_option
@click.pass_context
def validate(ctx: click.Context, kb: Path | None, skip_bad_rows: bool) -> None:
    """Check a knowledge base's files (and its orders.json) and report every problem (file, line, field)."""
    from actions.order_records import read_orders
    from actions.services import orders_file
    from retrieval.loaders import load_knowledge_base

    settings = _skipping(_settings(ctx, kb), skip_bad_rows)
    issues = []
    try:
        store = load_knowledge_base(settings.kb_dir, skip_bad_rows=settings.skip_bad_rows or None)
    except DataError as exc:
        issues += exc.issues
    orders_path = orders_file(settings.kb_dir, settings)
    orders, order_issues = read_orders(orders_path) if orders_path is not None else ([], [])
    if issues or order_issues:
        raise UserError(str(DataError(issues + order_issues))) from None
    click.echo(f"{store.name}: OK - {len(store.products)} products in {len(store.categories)} categories, "
               f"{len(store.faq)} FAQ entries, {len(store.policies)} policy sections"
               + (f", {len(store.history)} history events" if store.history else "")
               + (f", {len(orders)} orders" if orders_path is not None else ", no orders (no order look-ups)"))
    if store.load_report.skipped or store.load_report.notes:
        click.echo(store.load_report.describe())


@main.command()
@click.option("--sessions", type=int, default=32, show_default=True, help="Concurrent websocket sessions.")
@click.option("--turns", type=int, default=4, show_default=True, help="Messages per session.")
@click.option("--think", type=float, default=0.0, show_default=True,
              help="Seconds a shopper pauses between a reply and the next message (0: a burst).")
@click.option("--alone", "alone_turns", type=int, default=24, show_default=True,
              help="Turns of one session asked first with nobody else on the server (latency without queueing).")
@click.option("--responder", type=click.Choice(["generate", "extractive"]), default="generate", show_default=True,
              help="How FAQ answers are written during the bench.")
@click.option("--no-baseline", is_flag=True, help="Measure shopbot only.")
@click.option("--json", "json_out", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--plot", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A PNG of the latency distributions.")
def bench(sessions: int, turns: int, think: float, alone_turns: int, responder: str, no_baseline: bool,
          json_out: Path | None, plot: Path | None) -> None:
    """Load-test the demo store over /ws, then the naive baseline with the same load; print the table."""
    from bot.benchmark import plot_latencies, run_bench, table
    from bot.reporting import write_report

    if sessions < 1 or turns < 1:
        raise UserError("--sessions and --turns must be at least 1")
    try:
        report = run_bench(sessions, turns, think, alone_turns, not no_baseline, responder,
                           progress=lambda line: click.echo(line, err=True))
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    click.echo(table(report))
    write_report(json_out, report)
    if plot is not None:
        plot_latencies(report, plot)


@main.command()
@kb_option
@click.option("--rebuild", is_flag=True, help="Rebuild even when the data has not changed.")
@skip_option
@click.pass_context
def index(ctx: click.Context, kb: Path | None, rebuild: bool, skip_bad_rows: bool) -> None:
    """Build (or verify) the store's search index."""
    from bot.knowledge import index_folder
    from retrieval.loaders import load_knowledge_base

    settings = _skipping(_settings(ctx, kb), skip_bad_rows)
    if rebuild:
        import shutil

        try:
            kb_data = load_knowledge_base(settings.kb_dir, skip_bad_rows=settings.skip_bad_rows or None)
            shutil.rmtree(index_folder(settings, kb_data), ignore_errors=True)
        except DataError as exc:
            raise UserError(str(exc)) from None
    store = _open(settings)
    click.echo(json.dumps(store.index.manifest, indent=2))


@main.command()
@click.argument("query")
@kb_option
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["faq", "policy", "product"]),
              help="Restrict to these passage kinds (repeatable).")
@click.option("-k", "k", default=5, show_default=True, help="How many passages.")
@click.pass_context
def search(ctx: click.Context, query: str, kb: Path | None, kinds: tuple[str, ...], k: int) -> None:
    """Search the store's FAQ, policies and catalog."""
    store = _open(_settings(ctx, kb))
    for hit in store.index.search(query, k=k, kinds=kinds or None):
        click.echo(f"{hit.score:.4f}  {hit.id:<42} {hit.passage.title[:70]}")


@main.command()
@click.argument("query")
@kb_option
@click.option("-k", "k", default=5, show_default=True, help="How many products.")
@click.pass_context
def products(ctx: click.Context, query: str, kb: Path | None, k: int) -> None:
    """Find products: filters ("under $80", "in blue", brands), "similar to X", "goes with X"."""
    from bot.channels.terminal import format_cards
    from retrieval.recommend import Recommender

    settings = _settings(ctx, kb)
    store = _open(settings)
    recommendation = Recommender(store.products, settings.store_url, k).recommend(query)
    results = recommendation.results
    click.echo(f"mode: {results.mode}; filters: {results.filters.describe() or 'none'}"
               + (f"; anchor: {results.anchor.title}" if results.anchor else ""))
    click.echo(format_cards([c.to_dict() for c in recommendation.cards]) if recommendation.cards else "no products match")


@main.group(name="eval")
def eval_group() -> None:
    """Measure the bot on labelled data."""


@eval_group.command(name="recommend")
@click.option("--train", "train_path", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="`user item` lines, each shopper's interactions in time order.")
@click.option("--test", "test_path", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="`user true_item neg_1 ... neg_n` lines: the true next item ranked among the negatives.")
@kb_option
@click.option("--json", "json_out", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--epochs", type=int, default=None, help="Epochs of the sequential model (default: its config's).")
@click.option("--baselines-only", is_flag=True, help="Skip the sequential model.")
@click.pass_context
def eval_recommend(ctx: click.Context, train_path: Path | None, test_path: Path | None, kb: Path | None,
                   json_out: Path | None, epochs: int | None, baselines_only: bool) -> None:
    """Next-item recommendation: HR@10, NDCG@10, MRR, train time and per-shopper scoring time of each model
    (popularity, item-item co-occurrence, and the sequential model), all in one run: on `--train T --test E`, or
    with `--kb DIR` alone on the store's history.csv, each shopper's last purchase held out."""
    import dataclasses
    import platform

    from retrieval.sequential.baselines import CoOccurrence, Popularity
    from retrieval.sequential.data import item_count, load_cases, load_sequences
    from retrieval.sequential.evaluation import compare
    from retrieval.sequential.model import SequentialConfig, train_sequential

    def configured(config: SequentialConfig) -> SequentialConfig:
        return config if epochs is None else dataclasses.replace(config, epochs=epochs)

    machine = f"{platform.machine()}, {os.cpu_count()} cpus"
    if train_path is None and test_path is None:
        from retrieval.sequential.personal import DEMO_CONFIG
        from retrieval.sequential.store import evaluate_store

        settings = _settings(ctx, kb)
        store = _store_with_history(settings, "to hold purchases out of")
        assert store is not None
        report = {**evaluate_store(store, configured(DEMO_CONFIG), baselines_only=baselines_only,
                                   progress=True), "kb": str(settings.kb_dir), "machine": machine}
    elif train_path is None or test_path is None or kb is not None:
        raise UserError("give --train and --test together, or --kb alone")
    else:
        try:
            train, cases = load_sequences(train_path), load_cases(test_path)
        except DataError as exc:
            raise UserError(str(exc)) from None
        builders: list[Any] = [Popularity, CoOccurrence]
        if not baselines_only:
            config, n_items = configured(SequentialConfig()), item_count(train, cases)
            builders.append(lambda data: train_sequential(data, n_items, config, progress=True))
        report = {"train": str(train_path), "test": str(test_path), "n_users": len(cases),
                  "models": compare(builders, train, cases), "machine": machine}
    for row in report["models"]:
        click.echo(json.dumps({k: row[k] for k in ("model", "hr@10", "ndcg@10", "mrr", "train_seconds", "p50_ms")}))
    write_report(json_out, report)


@eval_group.command(name="retrieval")
@click.option("--faq", "faq_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="FAQ file (CSV id,question,answer; YAML or JSON).")
@click.option("--queries", "queries_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="CSV with columns query,faq_id.")
@click.option("--json", "json_out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the metrics (and the misses) to this JSON file.")
@click.pass_context
def eval_retrieval(ctx: click.Context, faq_path: Path, queries_path: Path, json_out: Path | None) -> None:
    """Build a fresh index from an FAQ and report hit@1, hit@5, MRR and p50 latency."""
    from retrieval.documents import faq_passage
    from bot.config import make_embedder
    from retrieval.evaluation import evaluate_faq_retrieval, load_queries
    from retrieval.index import KnowledgeIndex
    from retrieval.loaders import load_faq

    settings = _settings(ctx)
    try:
        faq = load_faq(faq_path)
        queries = load_queries(queries_path, {e.id for e in faq})
    except DataError as exc:
        raise UserError(str(exc)) from None
    started = time.perf_counter()
    from retrieval.store import base_embedder, store_faq

    base = base_embedder(settings)
    faq = store_faq(settings, faq, base, progress=True)  # generated questions when the FAQ has too few alternates
    embedder = make_embedder(settings, faq, progress=True, base=base)
    tuning_seconds = time.perf_counter() - started
    embedder.warm_up()
    started = time.perf_counter()
    index = KnowledgeIndex.build([faq_passage(e) for e in faq], embedder, settings.retrieval.to_config(),
                                 progress=True)
    build_seconds = time.perf_counter() - started
    report: dict[str, Any] = evaluate_faq_retrieval(index, queries)
    report.update({"faq": str(faq_path), "queries": str(queries_path), "n_faq": len(faq),
                   "index_build_s": round(build_seconds, 2), "model": embedder.model_id,
                   "finetuned": embedder.model_path.name.startswith("faq-tuned-"),
                   "finetune_and_load_s": round(tuning_seconds, 2)})
    for miss in report["misses"]:
        click.echo(f"  miss (rank {miss['rank'] or '>10'}): {miss['query']!r} -> expected {miss['expected']}, "
                   f"got {', '.join(miss['top'])}", err=True)
    summary = {key: report[key] for key in ("hit@1", "hit@5", "mrr", "n_queries", "p50_ms")}
    click.echo(json.dumps(summary))
    write_report(json_out, report)


@eval_group.command(name="answers")
@click.option("--faq", "faq_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="FAQ file (CSV id,question,answer; YAML or JSON).")
@click.option("--queries", "queries_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="CSV with columns query,faq_id.")
@click.option("--json", "json_out", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--replies", "replies_out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write one JSON line per query: query, reply, sources (best first).")
@click.option("--limit", type=int, default=None, help="Answer only the first N queries.")
@click.pass_context
def eval_answers(ctx: click.Context, faq_path: Path, queries_path: Path, json_out: Path | None,
                 replies_out: Path | None, limit: int | None) -> None:
    """Answer every query with retrieval and the full responder; report source_hit@1, answer_f1 and latency."""
    import asyncio
    import platform

    from bot.app import load_responder
    from bot.config import make_embedder
    from bot.responder.answerer import Answerer
    from bot.responder.evaluation import evaluate_answers
    from retrieval.documents import faq_passage
    from retrieval.evaluation import load_queries
    from retrieval.index import KnowledgeIndex
    from retrieval.loaders import KnowledgeBase, load_faq

    settings = _settings(ctx)
    try:
        faq = load_faq(faq_path)
        queries = load_queries(queries_path, {e.id for e in faq})[:limit]
    except DataError as exc:
        raise UserError(str(exc)) from None
    embedder = make_embedder(settings, faq, progress=True)
    index = KnowledgeIndex.build([faq_passage(e) for e in faq], embedder, settings.retrieval.to_config())
    kb = KnowledgeBase(root=faq_path.parent, name=faq_path.stem, faq=faq)
    try:
        responder = load_responder(settings, kb)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    answerer = Answerer(index, responder, "the store", settings.responder.k_sources, settings.answer_min_similarity)
    from retrieval.progress import progress_bar

    with progress_bar(total=len(queries), desc="Answering", unit="query", show=True) as bar:
        report = asyncio.run(evaluate_answers(answerer, queries, faq, replies_out, progress=bar))
    report.update({"faq": str(faq_path), "queries": str(queries_path), "mode": responder.mode,
                   "model": responder.generator.model if responder.generator is not None else None,
                   "engine": responder.generator.name if responder.generator is not None else None,
                   "device": responder.generator.device if responder.generator is not None else "cpu",
                   "machine": f"{platform.machine()}, {os.cpu_count()} cpus"})
    click.echo(json.dumps({k: report[k] for k in ("source_hit@1", "answer_f1", "fallback_rate", "ungrounded_facts",
                                                  "p50_ms", "first_chunk_p50_ms", "n_queries")}))
    write_report(json_out, report)


@eval_group.command(name="dialogues")
@kb_option
@click.option("--stories", "stories_path", required=True, type=click.Path(path_type=Path),
              help="A YAML file of test conversations (see knowledge_base/demo/stories.yml).")
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write the report as JSON here.")
@click.option("--verbose", is_flag=True, help="Print every step, not only the failing ones.")
@click.pass_context
def eval_dialogues(ctx: click.Context, kb: Path | None, stories_path: Path, json_out: Path | None,
                   verbose: bool) -> None:
    """Run test conversations through the engine: pass/fail per step, and a check that no order leaks."""
    import asyncio

    from bot.dialogue.stories import load_stories, run_stories
    from bot.dialogue.store import ConversationStore

    settings = _settings(ctx, kb)
    try:
        suite = load_stories(stories_path)
    except DataError as exc:
        raise UserError(str(exc)) from None
    bot = _load_bot(settings, need_nlu=True, conversations=ConversationStore())
    orders_file = settings.kb_dir / "orders.json"
    report = asyncio.run(run_stories(bot.engine, suite, orders_file if orders_file.is_file() else None))
    for result in report.results:
        if verbose or not result.passed:
            mark = "ok  " if result.passed else "FAIL"
            click.echo(f"{mark} {result.story} / step {result.index + 1}: {result.user!r}")
            for problem in result.problems:
                click.echo(f"       {problem}")
            if not result.passed:
                for reply in result.replies:
                    click.echo(f"       bot: {reply[:160]}")
    summary = report.summary()
    click.echo(json.dumps(summary))
    write_report(json_out, {**summary, "stories_file": str(stories_path),
                            "steps_detail": [vars(r) for r in report.results]})
    if not report.passed:
        raise SystemExit(1)


@eval_group.command(name="intent")
@click.option("--train", "train_path", required=True, type=click.Path(path_type=Path),
              help="Training data: CSV text,label or a Rasa nlu.yml.")
@click.option("--test", "test_path", required=True, type=click.Path(path_type=Path),
              help="Test data: CSV text,label or a Rasa nlu.yml.")
@click.option("--oos-label", default="oos", show_default=True, help="The out-of-scope label, if the data has one.")
@click.option("--epochs", type=int, default=None, help="Training epochs (default: the production setting).")
@click.option("--json", "json_out", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--report", "report_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Write per_label.csv and confusion.png here.")
def eval_intent(train_path: Path, test_path: Path, oos_label: str, epochs: int | None, json_out: Path | None,
                report_dir: Path | None) -> None:
    """Train a fresh intent model on TRAIN and report accuracy, macro F1 and out-of-scope figures on TEST."""
    from dataclasses import replace

    from bot.nlu.data import load_nlu_data
    from bot.nlu.evaluation import evaluate_intent
    from bot.nlu.trainer import TrainConfig

    try:
        train, test = load_nlu_data(train_path).examples, load_nlu_data(test_path).examples
    except DataError as exc:
        raise UserError(str(exc)) from None
    config = TrainConfig(oos_label=oos_label)
    if epochs is not None:
        config = replace(config, epochs=epochs)
    report = evaluate_intent(train, test, oos_label, config, report_dir, progress=True)
    report.update({"train": str(train_path), "test": str(test_path), "epochs": config.epochs})
    click.echo(json.dumps(report))
    write_report(json_out, report)


@eval_group.command(name="sentiment")
@kb_option
@click.option("--test", "test_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="CSV text,label (negative/neutral/positive, or negative/positive only).")
@click.option("--train", "train_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Train a fresh model on this CSV instead of using the store's trained model.")
@click.option("--json", "json_out", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.pass_context
def eval_sentiment(ctx: click.Context, kb: Path | None, test_path: Path, train_path: Path | None,
                   json_out: Path | None) -> None:
    """Score the sentiment head of the store's model (or of a fresh one trained on --train)."""
    import tempfile

    from bot.nlu.data import SENTIMENT_LABELS, load_labelled_csv
    from bot.nlu.evaluation import evaluate_sentiment
    from bot.nlu.parser import NluParser
    from bot.nlu.pipeline import latest_model
    from bot.nlu.trainer import train_nlu
    from retrieval.embeddings import packaged_minilm_path
    from retrieval.loaders import load_knowledge_base

    settings = _settings(ctx, kb)
    try:
        test = load_labelled_csv(test_path, SENTIMENT_LABELS)
        train = load_labelled_csv(train_path, SENTIMENT_LABELS) if train_path else None
        store = load_knowledge_base(settings.kb_dir) if train is None else None
    except DataError as exc:
        raise UserError(str(exc)) from None
    with tempfile.TemporaryDirectory() as scratch:
        if train is not None:
            from bot.nlu.data import Example

            placeholder = [Example("hello", "greet"), Example("bye", "goodbye")] * 5  # the intent head needs labels
            train_nlu(placeholder, train, packaged_minilm_path(), Path(scratch), progress=True)
            folder = Path(scratch)
        else:
            folder = latest_model(store, settings.cache_dir)
            if folder is None:
                raise UserError("no trained model for this store: run `shopbot train` first (or pass --train)")
        report = evaluate_sentiment(NluParser.load(folder), test)
    report.update({"test": str(test_path), "model": "fresh" if train is not None else str(folder)})
    click.echo(json.dumps(report))
    write_report(json_out, report)


from bot.analytics.cli import report_command  # noqa: E402
from bot.privacy.cli import privacy_group  # noqa: E402
from bot.writing.cli import write_group  # noqa: E402

main.add_command(privacy_group)
main.add_command(write_group)
main.add_command(report_command)


if __name__ == "__main__":
    main()
