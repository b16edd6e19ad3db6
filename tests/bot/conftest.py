"""Fixtures for the tests of bot/: the demo domain, a fresh demo order back-end for every test, and engines."""

from __future__ import annotations

import pytest

from actions.ledger import SqliteLedger
from actions.services import set_backend, set_ledger
from bot.config import DEMO_KB
from bot.dialogue.domain import Domain, load_domain
from bot.dialogue.executor import ActionRunner, InProcessExecutor
from bot.dialogue.store import ConversationStore
from bot.engine import Engine
from tests.support import demo_backend


@pytest.fixture(scope="session")
def demo_domain() -> Domain:
    return load_domain(DEMO_KB / "domain.yml")


@pytest.fixture(autouse=True)
def demo_orders(tmp_path_factory: pytest.TempPathFactory):
    """Each test starts from the demo orders as shipped, with the clock on 2026-11-23, and its own ledger of failed
    identity checks (a fresh SQLite file)."""
    backend = demo_backend()
    set_backend(backend)
    set_ledger(SqliteLedger(tmp_path_factory.mktemp("ledger") / "verification.db"))
    yield backend
    set_backend(None)
    set_ledger(None)


@pytest.fixture
def make_engine(demo_store):
    """Build the demo store's engine the way `shopbot` does (`build_bot`): extractive replies, no NLU unless given."""
    from actions.services import set_recommender
    from bot.app import build_bot
    from bot.config import Settings
    from bot.responder.responder import Responder

    def build(store: ConversationStore | None = None, executor: ActionRunner | None = None, parser=None) -> Engine:
        return build_bot(Settings(), demo_store, Responder(None), parser, store or ConversationStore(),
                         executor or InProcessExecutor()).engine

    yield build
    set_recommender(None)
