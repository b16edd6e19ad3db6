"""Generated training questions (`retrieval.question_generation`): the template writer, the real packaged LM on
two entries, the filters with the real MiniLM, the cache by fingerprint, and the store's use of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.documents import FaqEntry
from retrieval.embeddings import Embedder
from retrieval.question_generation import (QUESTIONS_FILE, QuestionConfig, Target, Vocabulary, copies_answer,
                                           filter_questions, generated_questions, lm_questions, normal,
                                           open_question_writer, targets_of, template_questions, with_generated)

FAQ = [
    FaqEntry("shipping-cost", "How much does shipping cost?",
             "US Standard shipping is $5.95 and Expedited is $12.95. Standard is free over $75.", "shipping"),
    FaqEntry("return-window", "How long do I have to return an item?",
             "You can return unworn items within 30 days of delivery for a full refund.", "returns"),
    FaqEntry("reset-password", "How do I reset my password?",
             "Click 'Forgot password' on the sign-in page and follow the link we email you.", "account"),
]


def test_templates_write_varied_shopper_forms_deterministically() -> None:
    targets = targets_of(FAQ)
    vocabulary = Vocabulary(targets)
    written = template_questions(targets[2], vocabulary)
    assert written == template_questions(targets[2], vocabulary)  # same data, same questions
    assert "how to reset my password" in written  # a question-form rewrite
    assert "reset password" in written  # terse
    assert any(w.startswith(("hi ", "hey so ", "quick question")) or w.endswith(" thanks") for w in written)  # chatty
    assert len({normal(w) for w in written}) >= 10
    # a typo: a word of the question with one letter swapped, dropped or doubled
    question_words = set(normal(FAQ[2].question).split())
    assert any(set(normal(w).split()) - question_words - {"u", "ur", "hi", "how", "to"} for w in written)
    # the answer's own words (by IDF over the store) appear in some questions
    assert any("forgot" in w or "sign" in w or "link" in w for w in written)


def test_copies_of_the_answer_are_recognised() -> None:
    answer = FAQ[1].answer
    assert copies_answer("you can return unworn items within 30 days of delivery", answer, 0.6)
    assert copies_answer(answer, answer, 0.6)
    assert not copies_answer("how long do i have to send stuff back", answer, 0.6)


def test_filters_drop_duplicates_answer_copies_and_questions_that_retrieve_another_entry(embedder: Embedder) -> None:
    targets = targets_of(FAQ)
    candidates = {
        "faq:shipping-cost": ["what does delivery cost", "What does delivery cost?", FAQ[0].question,
                              "how do i reset my password"],  # the last one belongs to another entry
        "faq:return-window": ["you can return unworn items within 30 days of delivery for a full refund",
                              "how many days to send something back"],
        "faq:reset-password": ["forgot my login, how do i change it"],
    }
    kept, dropped = filter_questions(candidates, targets, embedder, QuestionConfig(filter_rank=1))
    assert kept == {"faq:shipping-cost": ["what does delivery cost"],
                    "faq:return-window": ["how many days to send something back"],
                    "faq:reset-password": ["forgot my login, how do i change it"]}
    assert dropped == {"duplicate": 2, "copies_answer": 1, "retrieves_another": 1}


def test_the_packaged_lm_writes_a_question_for_an_entry(tmp_path: Path) -> None:
    generator = open_question_writer(tmp_path)
    try:
        target = Target("faq:return-window", FAQ[1].question, FAQ[1].answer)
        for style in (0, 1):
            written = lm_questions(generator, target, style, max_tokens=24)
            assert len(written) <= 1
            for line in written:
                assert "\n" not in line and 3 <= len(line) <= 200 and not line.startswith(('"', "Question:"))
    finally:
        generator.close()


def test_generated_questions_are_cached_by_fingerprint_and_rewritten_when_damaged(embedder: Embedder,
                                                                                  tmp_path: Path) -> None:
    targets = targets_of(FAQ[:2])
    config = QuestionConfig(lm_budget_s=600, lm_max_tokens=16)
    first = generated_questions(targets, embedder, tmp_path, config)
    assert first.stats["lm_targets"] == 2 and first.count() > 10
    assert set(first.questions) == {"faq:shipping-cost", "faq:return-window"}

    def no_lm() -> None:
        raise AssertionError("the cached questions should have been used")

    again = generated_questions(targets, embedder, tmp_path, config, writer=no_lm)
    assert again.questions == first.questions
    # other data, another fingerprint: written again (templates only here)
    other = generated_questions(targets_of(FAQ), embedder, tmp_path, QuestionConfig(lm=False))
    assert "faq:reset-password" in other.questions
    # a damaged cache file is not used
    (path,) = [p for p in (tmp_path / "questions").glob(f"*/{QUESTIONS_FILE}")
               if "reset-password" in p.read_text()]
    data = json.loads(path.read_text())
    data["questions"]["faq:reset-password"] = ["how do i return an item"]
    path.write_text(json.dumps(data))
    rewritten = generated_questions(targets_of(FAQ), embedder, tmp_path, QuestionConfig(lm=False))
    assert rewritten.questions == other.questions


def test_generated_questions_become_alternates_after_the_hand_written_ones(embedder: Embedder,
                                                                           tmp_path: Path) -> None:
    faq = [FaqEntry("shipping-cost", FAQ[0].question, FAQ[0].answer, alternates=("postage?",)), *FAQ[1:]]
    generated = generated_questions(targets_of(faq), embedder, tmp_path, QuestionConfig(lm=False))
    augmented = with_generated(faq, generated)
    assert augmented[0].alternates[0] == "postage?"
    assert list(augmented[0].alternates[1:]) == generated.for_target("faq:shipping-cost")
    assert [e.answer for e in augmented] == [e.answer for e in faq]


@pytest.mark.parametrize("alternates, expect_generated", [(0, True), (60, False)])
def test_the_store_generates_only_when_it_has_too_few_alternates(embedder: Embedder, tmp_path: Path,
                                                                  alternates: int, expect_generated: bool) -> None:
    from retrieval.store import StoreSearchSettings, store_faq

    faq = [FaqEntry(e.id, e.question, e.answer, alternates=tuple(f"{e.id} phrasing {i}" for i in range(
        alternates // len(FAQ) + 1)) if alternates else ()) for e in FAQ]
    settings = StoreSearchSettings(cache_dir=tmp_path, finetune={"question_lm": False, "generate_questions": True})
    result = store_faq(settings, faq, embedder)
    assert (result != faq) == expect_generated
    if expect_generated:
        assert all(len(e.alternates) >= 3 for e in result)
    assert store_faq(StoreSearchSettings(cache_dir=tmp_path), faq, embedder) == faq   # off by default


def test_the_server_start_indexes_the_generated_questions_when_they_are_on(tmp_path: Path) -> None:
    """`shopbot serve` (bot.startup) opens the FAQ as `shopbot index` does: with the generated questions as views."""
    from concurrent.futures import Future

    from bot.config import Settings
    from bot.startup import Startup

    store = tmp_path / "store"
    store.mkdir()
    (store / "catalog.csv").write_text("id,title,price\nmug,Camp Mug,12.00\n", encoding="utf-8")
    (store / "faq.csv").write_text("id,question,answer\n" + "".join(
        f'{e.id},"{e.question}","{e.answer}"\n' for e in FAQ), encoding="utf-8")
    settings = Settings(kb_dir=store, cache_dir=tmp_path / "cache", data_dir=tmp_path / "data",
                        responder={"mode": "extractive"}, finetune={"question_lm": False, "generate_questions": True})
    startup = Startup(settings, echo=lambda line: None)
    kb = startup._load_kb()
    nlu_done: Future = Future()
    nlu_done.set_result(None)
    knowledge = startup._index(kb, nlu_done)
    views = {p.id: p.metadata.get("alternates", []) for p in knowledge.index.passages if p.kind == "faq"}
    assert set(views) == {f"faq:{e.id}" for e in FAQ}
    assert all(len(alternates) >= 3 for alternates in views.values())   # none in the file: all generated
