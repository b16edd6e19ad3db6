"""Address parsing for `action_change_address`: a full one-line address or nothing."""

from __future__ import annotations

import pytest

from actions.changes import parse_address


@pytest.mark.parametrize("text, expected", [
    ("12 Oak St, Portland, OR 97209, United States",
     {"line1": "12 Oak St", "city": "Portland", "region": "OR", "postal_code": "97209", "country": "United States"}),
    ("1732 Cedar Ln, Apt 14C, Asheville, NC 28801, USA",
     {"line1": "1732 Cedar Ln, Apt 14C", "city": "Asheville", "region": "NC", "postal_code": "28801",
      "country": "USA"}),
    ("10 Downing St, London, SW1A 2AA, United Kingdom",
     {"line1": "10 Downing St", "city": "London", "postal_code": "SW1A 2AA", "country": "United Kingdom"}),
])
def test_full_addresses_are_split_into_their_parts(text: str, expected: dict[str, str]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["somewhere nice", "12 Oak St, Portland", "", "Portland, OR 97209"])
def test_incomplete_addresses_are_refused(text: str) -> None:
    assert parse_address(text) is None
