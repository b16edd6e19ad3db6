"""A store with only a catalog and an FAQ gets the generic customer-service NLU: trained once per cache (here reused
from the demo's model, which is trained on the same data), named `generic-...`; with it "talk to a human" hands off
through the real engine, an angry shopper is offered a person, and greetings and order intents are understood."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tests.bot.dialogue.conftest import say


@pytest.fixture(scope="module")
def imported_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bot.config import DEMO_KB

    folder = tmp_path_factory.mktemp("lakeside")
    for name in ("catalog.jsonl", "faq.csv"):
        shutil.copy(DEMO_KB / name, folder / name)
    (folder / "store.yml").write_text("name: Lakeside Gadgets\n")
    return folder


@pytest.fixture(scope="module")
def generic(imported_store: Path, demo_parser, demo_cache_dir: Path):
    from bot.nlu.pipeline import load_store_parser, train_store_nlu
    from retrieval.loaders import load_knowledge_base

    kb = load_knowledge_base(imported_store)
    folder, metadata, trained = train_store_nlu(kb, demo_cache_dir)
    return kb, folder, metadata, trained, load_store_parser(kb, folder)


def test_a_store_without_nlu_data_gets_the_generic_model_without_training_again(generic, demo_parser,
                                                                              demo_cache_dir) -> None:
    from bot.nlu.pipeline import latest_model, train_store_nlu, uses_generic_nlu

    kb, folder, metadata, trained, _ = generic
    assert uses_generic_nlu(kb) and folder.name.startswith("generic-") and not trained
    assert metadata["data_fingerprint"] == demo_parser.metadata["data_fingerprint"]
    assert latest_model(kb, demo_cache_dir) == folder
    assert train_store_nlu(kb, demo_cache_dir)[2] is False   # the second store start finds it by name


def test_the_generic_model_understands_handoff_anger_greetings_and_orders(generic) -> None:
    parser = generic[4]
    def intent(text: str) -> str:
        return parser.parse(text)["intent"]["name"]

    assert intent("I want to talk to a human") == "human_handoff"
    assert parser.parse("I am furious, my TV arrived smashed")["sentiment"]["label"] == "negative"
    assert intent("hi there") == "greet"
    assert intent("where is my order?") in ("order_status", "track_shipment")


def test_talk_to_a_human_and_an_angry_message_reach_a_person_on_the_imported_store(generic, make_engine) -> None:
    """"talk to a human" hands off at once; an angry shopper gets the answer and a person offered (the policy's
    design: once, not forced), and "yes" hands off."""
    parser = generic[4]
    engine = make_engine(parser=parser)
    human = asyncio.run(say(engine, "I want to talk to a human", sender="a"))
    assert any(e.type == "handoff" for e in human), [e.text for e in human]
    angry = asyncio.run(say(engine, "I am furious, my TV arrived smashed and nobody answers my emails", sender="b"))
    assert not any(e.type == "handoff" for e in angry)
    assert "A person from our team can take over" in " ".join(e.text for e in angry)
    accepted = asyncio.run(say(engine, "yes please", sender="b"))
    assert any(e.type == "handoff" for e in accepted), [e.text for e in accepted]
