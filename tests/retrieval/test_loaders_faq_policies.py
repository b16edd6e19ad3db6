import json
from pathlib import Path

import pytest

from retrieval.loaders import DataError, load_faq, load_policies
from tests.support import write


def test_faq_csv_yaml_json_agree(tmp_path: Path) -> None:
    rows = [{"id": "ship", "question": "How much is shipping?", "answer": "$5.95, free over $75."},
            {"id": "ret", "question": "Can I return?", "answer": "Within 30 days."}]
    csv_path = write(tmp_path / "faq.csv", "id,question,answer\nship,How much is shipping?,\"$5.95, free over $75.\"\n"
                                           "ret,Can I return?,Within 30 days.\n")
    yaml_path = write(tmp_path / "faq.yml", "faq:\n" + "".join(
        f"  - id: {r['id']}\n    question: \"{r['question']}\"\n    answer: \"{r['answer']}\"\n" for r in rows))
    json_path = write(tmp_path / "faq.json", json.dumps(rows))
    loaded = [load_faq(p) for p in (csv_path, yaml_path, json_path)]
    assert loaded[0] == loaded[1] == loaded[2]
    assert loaded[0][0].answer == "$5.95, free over $75."


def test_faq_alternates_from_csv_and_yaml(tmp_path: Path) -> None:
    csv_path = write(tmp_path / "faq.csv", "id,question,answer,alternates\nret,Can I return?,30 days.,send it back | return deadline\n")
    yaml_path = write(tmp_path / "faq.yml", "- id: ret\n  question: Can I return?\n  answer: 30 days.\n"
                                            "  alternates: [send it back, return deadline]\n")
    assert load_faq(csv_path) == load_faq(yaml_path)
    assert load_faq(csv_path)[0].alternates == ("send it back", "return deadline")
    bad = write(tmp_path / "bad.yml", "- id: ret\n  question: Q?\n  answer: A.\n  alternates: {a: 1}\n")
    with pytest.raises(DataError, match="alternates must be a list"):
        load_faq(bad)


def test_faq_errors_name_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", "id,question,answer\na,Q?,A.\nb,,A.\na,Q2?,A2.\nc,Q3?,\n")
    with pytest.raises(DataError) as caught:
        load_faq(path)
    found = {(i.line, i.field) for i in caught.value.issues}
    assert found == {(3, "question"), (4, "id"), (5, "answer")}


def test_faq_yaml_errors_have_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.yml", "- id: a\n  question: Q?\n  answer: A\n- id: b\n  question: Q2?\n")
    with pytest.raises(DataError) as caught:
        load_faq(path)
    [issue] = caught.value.issues
    assert (issue.line, issue.field) == (4, "answer")
    bad = write(tmp_path / "bad.yml", "- id: a\n  question: [unclosed\n")
    with pytest.raises(DataError, match="invalid YAML") as caught:
        load_faq(bad)
    assert caught.value.issues[0].line is not None


def test_policy_markdown_chunks_by_level_two_heading(tmp_path: Path) -> None:
    write(tmp_path / "returns.md", "# Returns Policy\n\nWe want you happy.\n\n## Return window\n\n30 days from delivery.\n\n"
                                   "### Details\nTags on.\n\n## Refunds\n\n3 business days.\n\n```\n## not a heading\n```\n")
    sections = load_policies(tmp_path)
    assert [s.id for s in sections] == ["returns#overview", "returns#return-window", "returns#refunds"]
    assert sections[1].document == "Returns Policy" and "### Details" in sections[1].text
    assert "## not a heading" in sections[2].text


def test_policy_text_file_chunks_paragraphs(tmp_path: Path) -> None:
    paragraph = " ".join(["word"] * 100)
    write(tmp_path / "terms.txt", f"{paragraph}\n\n{paragraph}\n\n{paragraph}\n")
    sections = load_policies(tmp_path / "terms.txt")
    assert [s.id for s in sections] == ["terms#part-1", "terms#part-2", "terms#part-3"]


def test_policy_errors(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "# A\n\n## Same\ntext\n\n## Same\nmore\n\n## Empty\n\n")
    write(tmp_path / "b.md", "   \n")
    with pytest.raises(DataError) as caught:
        load_policies(tmp_path)
    text = str(caught.value)
    assert "a.md:6: duplicate section heading 'Same'" in text
    assert "a.md:9: section 'Empty' has no text" in text
    assert "b.md:1: the policy file is empty" in text
