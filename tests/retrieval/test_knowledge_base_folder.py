"""A whole store folder: discovery by file name, `sources:` with a column mapping, and all-or-nothing errors."""

from pathlib import Path

import pytest

from retrieval.loaders import DataError, load_knowledge_base
from tests.support import write


def test_store_yml_sources_and_mapping(tmp_path: Path) -> None:
    write(tmp_path / "store.yml", "name: Tiny Shop\nsources:\n  catalog:\n    path: exports/products.csv\n"
                                  "    columns: {id: Handle, title: Title, price: Variant Price, category: Type, "
                                  "attributes.colors: Color}\n    list_separator: ';'\n  faq: help/faq.yml\n"
                                  "  policies: legal/\n")
    write(tmp_path / "exports" / "products.csv", "Handle,Title,Variant Price,Type,Color\nhat-1,Wool Hat,20,Hats,red;blue\n"
                                                 "scarf-1,Silk Scarf,35,Scarves,green\n")
    write(tmp_path / "help" / "faq.yml", "faq:\n  - {id: ship, question: \"Do you ship?\", answer: Yes.}\n")
    write(tmp_path / "legal" / "returns.md", "# Returns\n\n## Window\n\n30 days.\n")
    write(tmp_path / "categories.yml", "categories:\n  - {name: Hats, goes_with: [Scarves]}\n  - {name: Scarves}\n")
    kb = load_knowledge_base(tmp_path)
    assert kb.name == "Tiny Shop" and [p.id for p in kb.products] == ["hat-1", "scarf-1"]
    assert kb.product("hat-1").colors == ("red", "blue") and kb.categories["Hats"].goes_with == ("Scarves",)
    assert [p.id for p in kb.passages()] == ["faq:ship", "policy:returns#window", "product:hat-1", "product:scarf-1"]
    assert [p.id for p in kb.passages(("faq",))] == ["faq:ship"]


def test_default_file_names_are_found(tmp_path: Path) -> None:
    write(tmp_path / "catalog.jsonl", '{"id": "A", "title": "Mug", "price": 9, "category": "Kitchen"}\n')
    kb = load_knowledge_base(tmp_path)
    assert kb.name == tmp_path.name and kb.faq == [] and set(kb.categories) == {"Kitchen"}


def test_every_bad_file_is_reported_and_nothing_loads(tmp_path: Path) -> None:
    write(tmp_path / "catalog.csv", "id,title,price\nA,Mug,nine\n")
    write(tmp_path / "faq.csv", "id,question,answer\nx,,Yes\n")
    write(tmp_path / "policies" / "terms.md", "# Terms\n\n## Empty\n")
    write(tmp_path / "categories.yml", "- {name: Mugs, goes_with: [Nowhere]}\n")
    with pytest.raises(DataError) as caught:
        load_knowledge_base(tmp_path)
    files = {Path(i.file).name for i in caught.value.issues}
    assert files == {"catalog.csv", "faq.csv", "terms.md", "categories.yml"}


def test_empty_or_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no catalog, FAQ or policies found"):
        load_knowledge_base(tmp_path)
    with pytest.raises(DataError, match="knowledge-base folder not found"):
        load_knowledge_base(tmp_path / "nope")
    write(tmp_path / "store.yml", "name: [unclosed\n")
    with pytest.raises(DataError, match=r"store.yml:\d: invalid YAML"):
        load_knowledge_base(tmp_path)
