from pathlib import Path

import pytest

from bot.nlu.data import EntitySpan, load_nlu_data, load_sentiment_data, parse_annotated, validate_examples
from retrieval.loaders import DataError
from tests.support import write

NLU = """version: "3.1"
nlu:
- intent: order_status
  examples: |
    - where is my order [10482](order_id)
    - status of [10411](order_id) for [ana@example.com](email) please
    - has it shipped
- intent: greet
  examples: |
    - hi
    - hello there
- synonym: grey
  examples: |
    - gray
    - charcoal
- regex: order_id
  examples: |
    - \\b\\d{5}\\b
- lookup: brand
  examples: |
    - Kestrel
"""


def test_rasa_nlu_yaml(tmp_path: Path) -> None:
    data = load_nlu_data(write(tmp_path / "nlu.yml", NLU))
    assert [(e.label, e.text, e.line) for e in data.examples[:3]] == [
        ("order_status", "where is my order 10482", 5),
        ("order_status", "status of 10411 for ana@example.com please", 6),
        ("order_status", "has it shipped", 7)]
    assert data.examples[1].entities == (EntitySpan("order_id", "10411", 10, 15), EntitySpan("email", "ana@example.com", 20, 35))
    assert data.synonyms == {"gray": "grey", "charcoal": "grey"}
    assert data.regexes == {"order_id": [r"\b\d{5}\b"]} and data.lookups == {"brand": ["Kestrel"]}
    assert data.labels == ["greet", "order_status"] and data.counts()["order_status"] == 3


def test_annotation_forms() -> None:
    assert parse_annotated("[grey](color:gray) hoodie") == ("grey hoodie", (EntitySpan("color", "gray", 0, 4),))
    assert parse_annotated('[NYC]{"entity": "city", "value": "New York"}') == ("NYC", (EntitySpan("city", "New York", 0, 3),))
    with pytest.raises(ValueError):
        parse_annotated("broken [annotation(order_id)")


def test_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "nlu.yml", 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    hello\n'
                                      "    - [unclosed(order_id)\n- intent: x\n")
    with pytest.raises(DataError) as caught:
        load_nlu_data(bad)
    found = {(i.line, i.field) for i in caught.value.issues}
    assert found == {(6, "examples"), (7, "examples"), (8, "examples")}
    with pytest.raises(DataError, match=r"nlu.yml:\d+: invalid YAML"):
        load_nlu_data(write(tmp_path / "nlu.yml", "nlu:\n- intent: [\n"))


def test_validation_like_rasa_data_validate(tmp_path: Path) -> None:
    data = load_nlu_data(write(tmp_path / "nlu.yml", NLU + "- intent: goodbye\n  examples: |\n    - Hello there\n"))
    issues = validate_examples(data.examples, min_per_label=3, known_labels={"greet", "order_status"})
    text = "\n".join(str(i) for i in issues)
    assert "'Hello there' is listed under 'goodbye' and 'greet' (line 11)" in text
    assert "intent 'greet' has 2 examples; at least 3 are needed" in text
    assert "intent 'goodbye' is not declared in the domain" in text


def test_csv_and_sentiment(tmp_path: Path) -> None:
    data = load_nlu_data(write(tmp_path / "train.csv", "text,label\nhi,greet\n\"where, is it\",order_status\n"))
    assert [(e.text, e.label, e.line) for e in data.examples] == [("hi", "greet", 2), ("where, is it", "order_status", 3)]
    sentiment = load_sentiment_data(write(tmp_path / "s.yml", "sentiment:\n- label: negative\n  examples: |\n"
                                                              "    - this is awful\n- label: positive\n  examples: |\n    - love it\n"))
    assert [(e.text, e.label, e.line) for e in sentiment] == [("this is awful", "negative", 4), ("love it", "positive", 7)]
    with pytest.raises(DataError, match=r"s.csv:3: field 'label': unknown label 'angry'"):
        load_sentiment_data(write(tmp_path / "s.csv", "text,label\nok,neutral\ngrr,angry\n"))
