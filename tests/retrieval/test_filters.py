import pytest

from retrieval.documents import Product
from retrieval.filters import CatalogVocabulary, ProductFilters, parse_product_query

VOCAB = CatalogVocabulary(colors={"blue", "black", "grey", "navy", "red"}, brands={"Kestrel", "Summitline", "Alder & Co"},
                          categories={"Running Shoes", "Jackets & Outerwear", "Backpacks & Bags"},
                          subcategories={"rain jacket": "Jackets & Outerwear", "daypack": "Backpacks & Bags"})


@pytest.mark.parametrize("text, expected", [
    ("running shoes under $80 in blue", dict(max_price=80.0, colors=("blue",), categories=("Running Shoes",))),
    ("rain jackets below 120 dollars", dict(max_price=120.0, categories=("Jackets & Outerwear",))),
    ("daypack between $40 and $90", dict(min_price=40.0, max_price=90.0, categories=("Backpacks & Bags",))),
    ("jackets $100-$200", dict(min_price=100.0, max_price=200.0, categories=("Jackets & Outerwear",))),
    ("something over $150 from summitline", dict(min_price=150.0, brands=("Summitline",))),
    ("kestral shoes size 10.5", dict(brands=("Kestrel",), sizes=("10.5",))),  # typo in the brand
    ("grey hoodie in medium, in stock", dict(colors=("grey",), sizes=("M",), in_stock=True)),
    ("gray fleece for women around $60", dict(colors=("grey",), gender="women", min_price=48.0, max_price=72.0)),
    ("$50 or less", dict(max_price=50.0)),
    ("alder & co beanie", dict(brands=("Alder & Co",))),
])
def test_parse(text: str, expected: dict) -> None:
    filters, _ = parse_product_query(text, VOCAB)
    assert filters == ProductFilters(**expected)


def test_remaining_text_drops_filter_phrases() -> None:
    _, rest = parse_product_query("running shoes under $80 in blue", VOCAB)
    assert rest == "running shoes"


def test_plain_question_has_no_filters() -> None:
    filters, rest = parse_product_query("what is your return policy", VOCAB)
    assert filters.is_empty() and rest == "what is your return policy"


def product(**overrides) -> Product:
    values = dict(id="P1", title="Shoe", brand="Kestrel", category="Running Shoes", price=75.0,
                  attributes={"colors": ["blue"], "sizes": ["10", "10.5"], "gender": "men"}, stock=3)
    values.update(overrides)
    return Product(**values)


def test_matches() -> None:
    assert ProductFilters(max_price=80, colors=("blue",), sizes=("10",), brands=("kestrel",)).matches(product())
    assert not ProductFilters(max_price=70).matches(product())
    assert not ProductFilters(colors=("red",)).matches(product())
    assert not ProductFilters(in_stock=True).matches(product(stock=0))
    assert not ProductFilters(gender="women").matches(product())
    assert ProductFilters(gender="women").matches(product(attributes={"gender": "unisex"}))
    assert ProductFilters(sizes=("M",)).matches(product(attributes={"sizes": ["One Size"]}))
    assert not ProductFilters(exclude_ids=("P1",)).matches(product())


def test_merged_and_describe() -> None:
    merged = ProductFilters(max_price=100, colors=("blue",)).merged(ProductFilters(colors=("black",), in_stock=True))
    assert merged == ProductFilters(max_price=100, colors=("black",), in_stock=True)
    assert merged.describe() == "under $100, black, in stock"
