"""Returns through rasa-sdk's own ActionExecutor, driven the way the engine drives them (the demo domain, the slots
carried from turn to turn): which items, then a yes, then the return with the items it records; and an outsider's
attacks on it (another order's items, forged choices, someone else's email, odd Unicode, a replayed yes)."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from actions.returns import return_key
from actions.services import set_backend
from actions.store_backend import SqliteStoreBackend
from bot.dialogue.domain import load_domain
from tests.actions.conftest import execute, text_of, user_event
from tests.support import DEMO_ORDERS, demo_backend, demo_clock

DOMAIN = load_domain(DEMO_ORDERS.parent / "domain.yml").as_rasa_dict()
FREYA = {"order_id": "10441", "email": "freya.campbell@example.com"}      # 4 items, delivered 2026-11-17
HARPER = {"order_id": "10446", "email": "harper_brooks8@example.net"}     # 1 item
IVY = {"order_id": "10439", "email": "ifischer@example.com"}              # 4 items, the jacket is final sale
_ids = itertools.count(1)


class Shopper:
    """One conversation's side of the engine: the order form is done (order id and email in the slots); each
    message runs the return form's validator (while it is active) and then `action_start_return`, with every slot
    an action set carried to the next turn, as the engine does."""

    def __init__(self, pair: dict[str, str], sender: str = "websocket:shopper-1",
                 send: Callable[[dict[str, Any]], dict[str, Any]] = execute):
        self.slots: dict[str, Any] = dict(pair)
        self.sender = sender
        self.send = send   # how a webhook call reaches the actions: rasa-sdk's executor here, or a server
        self.form: str | None = None
        self.replies: list[dict[str, Any]] = []

    def request(self, action: str, events: list[dict[str, Any]], text: str) -> dict[str, Any]:
        return {"next_action": action, "sender_id": self.sender, "version": "3.21.1", "domain": DOMAIN,
                "tracker": {"sender_id": self.sender, "slots": {"requested_slot": None, **self.slots},
                            "latest_message": {"text": text}, "events": events, "paused": False,
                            "followup_action": None, "active_loop": {"name": self.form} if self.form else {},
                            "latest_action_name": "action_listen"}}

    def run(self, action: str, events: list[dict[str, Any]], text: str) -> dict[str, Any]:
        out = self.send(self.request(action, events, text))
        for event in out["events"]:
            if event["event"] == "slot":
                self.slots[event["name"]] = event["value"]
            elif event["event"] == "active_loop":
                self.form = event["name"]
        self.replies += out["responses"]
        return out

    def start(self, text: str = "I want to return something") -> dict[str, Any]:
        """The order form just finished: the engine runs the goal action."""
        return self.run("action_start_return", [user_event(text, message_id=f"m{next(_ids)}")], text)

    def answer(self, value: Any, text: str | None = None) -> dict[str, Any]:
        """An answer to the item question: the validator, then (once the form is done) the action, in one turn."""
        text = text if text is not None else str(value)
        events = [user_event(text, message_id=f"m{next(_ids)}"),
                  {"event": "slot", "timestamp": None, "name": "return_items", "value": value}]
        validated = self.run("validate_return_form", events, text)
        if self.form != "return_form" or self.slots.get("return_items") in (None, ""):
            return validated
        self.form = None  # the engine deactivates the finished form and runs its goal
        self.slots["requested_slot"] = None
        acted = self.run("action_start_return", events + validated["events"], text)
        return {"events": validated["events"] + acted["events"], "responses": validated["responses"] +
                acted["responses"]}

    def confirm(self, yes: bool = True, message_id: str | None = None) -> dict[str, Any]:
        """The shopper's yes or no to the pending question (the engine sets `confirmed`, then runs the action)."""
        self.slots["confirmed"] = yes
        text = "yes" if yes else "no"
        return self.run(self.slots.get("awaiting_confirmation") or "action_start_return",
                        [user_event(text, message_id=message_id or f"m{next(_ids)}")], text)


def buttons(out: dict[str, Any]) -> list[str]:
    return [b["title"] for r in out["responses"] for b in r.get("buttons") or []]


def returns(backend: SqliteStoreBackend, order_id: str) -> list[list[str]]:
    """The titles of each return's items, as the back-end recorded them."""
    return [[i["title"] for i in r["items"]] for r in backend.returns_for(order_id)]


def test_a_four_item_order_asks_which_items_with_a_button_each_and_all_of_them(backend) -> None:
    shopper = Shopper(FREYA)
    out = shopper.start()
    assert "Which item from order 10441 would you like to return?" in text_of(out)
    assert buttons(out) == ["Northwind Winter Boot (size 10.5) ×2", "Waypoint Low (size 10.5)",
                            "Rally Tight (size S) ×2", "Otter Gravity Filter 3", "All of them"]
    assert [b["payload"] for b in out["responses"][0]["buttons"]][-1] == '/inform{"return_items": "all"}'
    assert shopper.form == "return_form" and shopper.slots["requested_slot"] == "return_items"
    assert shopper.slots["goal_action"] == "action_start_return" and shopper.slots["awaiting_confirmation"] is None
    assert backend.returns_for("10441") == []  # nothing is opened by asking


@pytest.mark.parametrize("answer, chosen", [
    ("the boots", ["Northwind Winter Boot"]),
    ("2", ["Waypoint Low"]),
    ("1 and 3", ["Northwind Winter Boot", "Rally Tight"]),
    ("the second one", ["Waypoint Low"]),
    ("all", ["Northwind Winter Boot", "Waypoint Low", "Rally Tight", "Otter Gravity Filter 3"]),  # the button
    ("everything but the filter", ["Northwind Winter Boot", "Waypoint Low", "Rally Tight"]),
    ("the tights and the boots", ["Northwind Winter Boot", "Rally Tight"]),
])
def test_the_answer_by_name_or_position_is_confirmed_then_opened_with_those_items(backend, answer: str,
                                                                                   chosen: list[str]) -> None:
    shopper = Shopper(FREYA)
    shopper.start()
    asked = shopper.answer(answer)
    question = text_of(asked)
    assert question.startswith("Return the ") and question.endswith(" from order 10441 for a refund?")
    assert all(title in question for title in chosen) and buttons(asked) == ["Yes", "No"]
    assert shopper.slots["awaiting_confirmation"] == "action_start_return" and shopper.form is None
    assert backend.returns_for("10441") == []  # still nothing until the yes
    done = shopper.confirm()
    assert "is open for" in text_of(done) and "/returns/labels/R10441-" in text_of(done)
    assert returns(backend, "10441") == [chosen]
    opened = json.loads(json.dumps(done["responses"][0]["custom"]))["return"]
    assert opened["label_url"] == backend.returns_for("10441")[0]["label_url"]
    assert shopper.slots["awaiting_confirmation"] is None and shopper.slots["return_selection"] is None


def test_the_question_names_the_item_and_its_size(backend) -> None:
    shopper = Shopper(FREYA)
    shopper.start()
    assert text_of(shopper.answer("2")) == "Return the Waypoint Low (size 10.5) from order 10441 for a refund?"


def test_asking_again_instead_of_answering_the_yes_asks_which_items_again(backend) -> None:
    """A choice left from an earlier turn is not confirmed by a new request: the item question comes again."""
    shopper = Shopper(FREYA)
    shopper.start()
    shopper.answer("the boots")
    again = shopper.start("actually, I want to return something else from order 10441")
    assert "Which item from order 10441" in text_of(again) and shopper.slots["awaiting_confirmation"] is None
    assert shopper.slots["return_selection"] is None and shopper.form == "return_form"


def test_no_to_the_confirmation_opens_nothing(backend) -> None:
    shopper = Shopper(FREYA)
    shopper.start()
    shopper.answer("the boots")
    assert "haven't opened a return" in text_of(shopper.confirm(yes=False))
    assert backend.returns_for("10441") == [] and shopper.slots["return_selection"] is None


def test_a_one_item_order_skips_the_question_but_is_confirmed(backend) -> None:
    shopper = Shopper(HARPER)
    asked = shopper.start()
    assert text_of(asked) == "Return the Chinook Neck Gaiter from order 10446 for a refund?"
    assert shopper.form is None and backend.returns_for("10446") == []
    done = shopper.confirm()
    assert "Return R10446-" in text_of(done) and returns(backend, "10446") == [["Chinook Neck Gaiter"]]
    again = Shopper(HARPER).start("I want to return order 10446")
    assert "already open" in text_of(again) and len(backend.returns_for("10446")) == 1


def test_final_sale_items_are_left_out_and_said_so(backend, tmp_path: Path) -> None:
    out = Shopper(IVY).start()
    assert "The Monsoon Storm Jacket (size XL) is final sale, so it can't be returned." in text_of(out)
    assert "Monsoon Storm Jacket (size XL)" not in buttons(out) and len(buttons(out)) == 4  # 3 items and "all"
    shopper = Shopper(IVY)
    shopper.start()
    shopper.answer("all")
    shopper.confirm()
    assert returns(backend, "10439") == [["Riffle Laptop Pack 28", "Driftwood Tube Gaiter", "Tern Run Tee"]]
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps({"orders": [{"id": "30002", "email": "sam@example.com", "status": "delivered",
                                              "total": 9.0, "delivered_at": "2026-11-20T10:00:00-05:00",
                                              "items": [{"title": "Tern Road Runner 3", "product_id": "P1001",
                                                         "size": "9"}]}]}), encoding="utf-8")
    set_backend(only := SqliteStoreBackend.from_orders_file(orders, catalog=DEMO_ORDERS.parent / "catalog.jsonl",
                                                            clock=demo_clock))
    out = Shopper({"order_id": "30002", "email": "sam@example.com"}).start()
    assert text_of(out) == "Nothing on order 30002 can be returned. The Tern Road Runner 3 (size 9) is final sale, " \
                           "so it can't be returned."
    assert only.returns_for("30002") == []


def test_items_already_in_a_return_are_left_out_then_the_order_shows_its_returns(backend) -> None:
    first = Shopper(FREYA)
    first.start()
    first.answer("the boots")
    first.confirm()
    boots = backend.returns_for("10441")[0]["return_id"]
    second = Shopper(FREYA)
    out = second.start()
    assert f"The Northwind Winter Boot (size 10.5) ×2 is already in return {boots}." in text_of(out)
    assert buttons(out) == ["Waypoint Low (size 10.5)", "Rally Tight (size S) ×2", "Otter Gravity Filter 3",
                            "All of them"]
    second.answer("all")
    second.confirm()
    assert returns(backend, "10441") == [["Northwind Winter Boot"], ["Waypoint Low", "Rally Tight",
                                                                       "Otter Gravity Filter 3"]]
    shown = Shopper(FREYA).start()
    assert text_of(shown).count("is already open") == 2 and boots in text_of(shown)
    assert len(backend.returns_for("10441")) == 2


def test_an_unclear_answer_lists_the_items_again_and_an_ambiguous_one_asks_which(tmp_path: Path) -> None:
    order = {"id": "30001", "email": "sam@example.com", "status": "delivered", "total": 300.0,
             "delivered_at": "2026-11-20T10:00:00-05:00",
             "items": [{"title": "Lyra Hip Pack"}, {"title": "Riffle Laptop Pack 28"}, {"title": "Hollow Bottle"}]}
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps({"orders": [order]}), encoding="utf-8")
    set_backend(SqliteStoreBackend.from_orders_file(orders, clock=demo_clock))
    shopper = Shopper({"order_id": "30001", "email": "sam@example.com"})
    shopper.start()
    unclear = shopper.answer("the purple one")
    assert "couldn't tell which item" in text_of(unclear) and "1. Lyra Hip Pack" in text_of(unclear)
    assert shopper.form == "return_form" and shopper.slots["return_items"] is None
    ambiguous = shopper.answer("the pack")
    assert "Which one do you mean: the Lyra Hip Pack or the Riffle Laptop Pack 28?" in text_of(ambiguous)
    assert buttons(ambiguous) == ["Lyra Hip Pack", "Riffle Laptop Pack 28"]
    assert shopper.answer("the packs")["responses"][-1]["text"] == \
        "Return the Lyra Hip Pack and the Riffle Laptop Pack 28 from order 30001 for a refund?"


@pytest.mark.parametrize("text", ["never mind", "No", "cancel", "stop!"])
def test_never_mind_stops_the_item_question(backend, text: str) -> None:
    shopper = Shopper(FREYA)
    shopper.start()
    out = shopper.answer(text)
    assert "haven't opened a return" in text_of(out) and shopper.form is None
    assert shopper.slots["return_offer"] is None and backend.returns_for("10441") == []


# -- an outsider's attacks ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["the Chinook Neck Gaiter", "Chinook", "5", "0", "-1", "10446", "99999999999"])
def test_an_item_of_another_order_or_past_the_list_is_never_chosen(backend, answer: str) -> None:
    shopper = Shopper(FREYA)
    shopper.start()
    out = shopper.answer(answer)
    assert "couldn't tell which item" in text_of(out) and shopper.slots["return_selection"] is None
    assert backend.returns_for("10441") == [] and backend.returns_for("10446") == []


def test_a_choice_recorded_for_another_order_opens_nothing(backend) -> None:
    """A yes whose choice names order 10446 (Harper's) while the verified order is 10441: neither is returned;
    the shopper is asked which of 10441's items they mean."""
    shopper = Shopper({**FREYA, "awaiting_confirmation": "action_start_return",
                       "return_selection": {"order_id": "10446", "lines": [0]}})
    out = shopper.confirm()
    assert backend.returns_for("10446") == [] and backend.returns_for("10441") == []
    assert "Which item from order 10441" in text_of(out) and "Chinook" not in text_of(out)


def test_an_offer_made_for_another_order_stops_the_form(backend) -> None:
    shopper = Shopper({**FREYA, "return_offer": {"order_id": "10446", "lines": [0]}})
    shopper.form = "return_form"
    out = shopper.answer("1")
    assert "lost track" in text_of(out) and shopper.form is None and backend.returns_for("10441") == []


@pytest.mark.parametrize("lines", [[7], [0, 0, 1], [-1], [True], ["0"], [], "0", None])
def test_forged_lines_open_nothing(backend, lines: Any) -> None:
    shopper = Shopper({**FREYA, "awaiting_confirmation": "action_start_return",
                       "return_selection": {"order_id": "10441", "lines": lines}})
    out = shopper.confirm()
    assert backend.returns_for("10441") == []
    assert "Which item from order 10441" in text_of(out) or "couldn't find those items" in text_of(out)


def test_someone_elses_email_gets_no_return_and_no_item_names(backend, ledger) -> None:
    shopper = Shopper({"order_id": "10441", "email": "harper_brooks8@example.net",
                       "awaiting_confirmation": "action_start_return",
                       "return_selection": {"order_id": "10441", "lines": [0]}})
    out = shopper.confirm()
    assert "don't match" in text_of(out) and "Northwind" not in json.dumps(out)
    assert backend.returns_for("10441") == [] and shopper.slots["awaiting_confirmation"] is None
    validator = Shopper({"order_id": "10441", "email": "harper_brooks8@example.net",
                         "return_offer": {"order_id": "10441", "lines": [0, 1, 2, 3]}})
    validator.form = "return_form"
    out = validator.answer("1")
    assert "don't match" in text_of(out) and "Northwind" not in json.dumps(out) and validator.form is None


ODD = ["\ud800", "\udfff the boots", "ｔｈｅ ｂｏｏｔｓ", "２", "the bo\u200bots", "\u202eboots", "b\u0301o\u0308ots",
       "🥾", "2\ufe0f\u20e3", "\x00", "the boots" * 2000, "<script>alert(1)</script>", "'; DROP TABLE returns; --",
       "{order_id}", "/inform{\"return_items\": \"1\"}", ["1", "3"], {"lines": [0]}, 2, 2.5, True, None]


@pytest.mark.parametrize("answer", ODD, ids=range(len(ODD)))
def test_odd_unicode_and_odd_values_in_the_answer_never_break_or_echo(backend, answer: Any) -> None:
    shopper = Shopper(FREYA)
    shopper.start()
    out = shopper.answer(answer, text=str(answer)[:5000])
    said = text_of(out)
    assert said  # an answer: the confirmation, or the items again
    if isinstance(answer, str) and len(answer) > 3 and answer not in ("the boots" * 2000,):
        assert answer not in said
    assert "<script>" not in said and "DROP TABLE" not in said
    assert backend.returns_for("10441") == []  # nothing without the yes
    if shopper.slots.get("return_selection"):
        assert shopper.slots["return_selection"]["order_id"] == "10441"


@pytest.mark.parametrize("answer, chosen", [("ｔｈｅ ｂｏｏｔｓ", [0]), ("２", [1]), ("the bo\u200bots", [0]),
                                            ("\u202eboots", [0]), (["1", "3"], [0, 2]), (2, [1])])
def test_odd_forms_of_a_real_answer_still_choose_the_right_item(backend, answer: Any, chosen: list[int]) -> None:
    shopper = Shopper(FREYA)
    shopper.start()
    shopper.answer(answer, text=str(answer))
    assert shopper.slots["return_selection"] == {"order_id": "10441", "lines": chosen}


def test_a_retried_yes_opens_one_return_and_shows_the_same_one(backend) -> None:
    shopper = Shopper(FREYA)
    shopper.start()
    shopper.answer("1 and 3")
    shopper.slots["confirmed"] = True
    request = shopper.request("action_start_return", [user_event("yes", message_id="yes-1")], "yes")
    first, retry = execute(copy.deepcopy(request)), execute(copy.deepcopy(request))  # an action server retry
    assert text_of(retry) == text_of(first) and "is open for" in text_of(first)
    assert len(backend.returns_for("10441")) == 1
    replay = execute(shopper.request("action_start_return", [user_event("yes", message_id="yes-2")], "yes"))
    assert "is already open" in text_of(replay)  # a second yes (a new message) with the old choice forged back
    assert backend.returns_for("10441")[0]["return_id"] in text_of(replay) and len(backend.returns_for("10441")) == 1


def test_the_key_covers_the_conversation_the_order_the_items_and_the_message() -> None:
    from rasa_sdk import Tracker

    def tracker(sender: str, message_id: str) -> Tracker:
        return Tracker(sender, {}, {}, [user_event("yes", message_id=message_id)], False, None, {}, "action_listen")

    key = return_key(tracker("web:a", "m1"), "10441", [0, 2])
    assert key == return_key(tracker("web:a", "m1"), "10441", [2, 0])
    assert len({key, return_key(tracker("web:a", "m1"), "10441", [0]), return_key(tracker("web:b", "m1"), "10441",
                                                                                   [0, 2]),
                return_key(tracker("web:a", "m2"), "10441", [0, 2]),
                return_key(tracker("web:a", "m1"), "10442", [0, 2])}) == 5


# -- the back-end ---------------------------------------------------------------------------------------------------

def test_a_return_records_its_lines_and_a_line_goes_back_once(backend) -> None:
    opened = backend.start_return("10441", items=[2, 0])
    assert opened.ok and [i["title"] for i in opened.detail["items"]] == ["Northwind Winter Boot", "Rally Tight"]
    assert backend.return_options("10441").returnable == [1, 3]
    again = backend.start_return("10441", items=[0, 2])
    assert again.reason == "already_open" and again.detail["return_id"] == opened.detail["return_id"]
    overlap = backend.start_return("10441", items=[0, 1])
    assert overlap.reason == "items_not_returnable" and [i["line"] for i in overlap.detail["items"]] == [0]
    for bad in ([4], [-1], [1, 1], [], [True], ["1"]):
        assert backend.start_return("10441", items=bad).reason == "items_unknown", bad
    assert backend.start_return("10439", items=[1]).reason == "items_not_returnable"  # final sale
    assert backend.start_return("10445", items=[0]).reason == "status_shipped"
    assert len(backend.returns_for("10441")) == 1


def test_final_sale_comes_from_the_order_line_else_the_catalog(tmp_path: Path) -> None:
    rows = [{"id": "40001", "email": "a@example.com", "status": "delivered", "total": 1.0,
             "delivered_at": "2026-11-20T10:00:00-05:00",
             "items": [{"title": "Tern Road Runner 3", "product_id": "P1001"},
                       {"title": "Tern Road Runner 3", "product_id": "P1001", "final_sale": False},
                       {"title": "Lark Road Runner 5", "product_id": "P1002", "final_sale": True}]}]
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps({"orders": rows}), encoding="utf-8")
    with_catalog = SqliteStoreBackend.from_orders_file(orders, catalog=DEMO_ORDERS.parent / "catalog.jsonl",
                                                       clock=demo_clock)
    assert [i["why"] for i in with_catalog.return_options("40001").items] == ["final_sale", "", "final_sale"]
    without = SqliteStoreBackend.from_orders_file(orders, clock=demo_clock)  # no catalog beside this orders.json
    assert [i["why"] for i in without.return_options("40001").items] == ["", "", "final_sale"]


def test_a_file_of_the_old_schema_is_migrated_once(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "store.db"
    old = sqlite3.connect(path)
    order = next(o for o in json.loads(DEMO_ORDERS.read_text())["orders"] if o["id"] == "10441")
    old.executescript("CREATE TABLE orders (id TEXT PRIMARY KEY, email TEXT NOT NULL, status TEXT NOT NULL, "
                      "data TEXT NOT NULL); CREATE TABLE returns (id TEXT PRIMARY KEY, order_id TEXT NOT NULL "
                      "REFERENCES orders(id), created_at TEXT NOT NULL, label_url TEXT NOT NULL); "
                      "CREATE TABLE idempotency (key TEXT PRIMARY KEY, operation TEXT NOT NULL, order_id TEXT NOT "
                      "NULL, outcome TEXT NOT NULL);")
    old.execute("INSERT INTO orders VALUES ('10441', ?, 'delivered', ?)", (order["email"], json.dumps(order)))
    old.execute("INSERT INTO returns VALUES ('R10441-00AA', '10441', '2026-11-20T10:00-05:00', "
                "'/returns/labels/R10441-00AA.pdf')")
    old.commit()
    old.close()
    backend = demo_backend(path)
    [legacy] = backend.returns_for("10441")
    assert [i["title"] for i in legacy["items"]] == [i["title"] for i in order["items"]]  # the whole order
    token = legacy["label_url"].rsplit("/", 1)[1].removesuffix(".pdf")
    assert legacy["label_url"] == f"/returns/labels/R10441-00AA/{token}.pdf"
    assert backend.return_label("R10441-00AA", token)["order"]["id"] == "10441"
    assert backend.return_options("10441").returnable == []
    assert backend._db.execute("PRAGMA user_version").fetchone()[0] == 2
    assert demo_backend(path).returns_for("10441") == [legacy]  # opening it again changes nothing


def test_a_label_is_given_only_for_its_own_token(backend) -> None:
    first = backend.start_return("10441", items=[0]).detail
    second = backend.start_return("10446").detail
    token = first["label_url"].rsplit("/", 1)[1].removesuffix(".pdf")
    other = second["label_url"].rsplit("/", 1)[1].removesuffix(".pdf")
    assert backend.return_label(first["return_id"], token)["return_id"] == first["return_id"]
    assert backend.return_label(first["return_id"], other) is None          # another return's token
    assert backend.return_label(second["return_id"], token) is None
    for guess in (f"{n:04X}" for n in range(0x10000)):                      # every id of the order, a wrong token
        assert backend.return_label(f"R10441-{guess}", other) is None
    for bad in ("", token[:-1], token + "A", token.lower() if token.lower() != token else token.upper(), None, 42,
                "\ud800" * 32, "../" + token):
        assert backend.return_label(first["return_id"], bad) is None, bad  # type: ignore[arg-type]
    assert backend.return_label(first["return_id"].lower(), token) is None               # "r10441-..." (any suffix)


def test_a_wrong_token_takes_the_same_path_whether_or_not_the_return_exists(backend) -> None:
    """No existence oracle: the statements a wrong token runs do not depend on the return id (no timing asserted)."""
    real = backend.start_return("10441", items=[0]).detail["return_id"]
    statements: list[str] = []
    backend._db.set_trace_callback(statements.append)
    try:
        paths = []
        for return_id in (real, "R10441-0000", "R99999-FFFF"):
            statements.clear()
            assert backend.return_label(return_id, "A" * 32) is None
            paths.append(list(statements))
    finally:
        backend._db.set_trace_callback(None)
    assert paths[0] == paths[1] == paths[2] and paths[0] and not any("R10441" in s for s in paths[0])


# -- a stock action server --------------------------------------------------------------------------------------

def test_a_stock_action_server_asks_confirms_and_opens_a_return_whose_label_the_bot_can_serve(tmp_path: Path) -> None:
    """`python -m rasa_sdk --actions actions` with the order back-end in a shared file (`SHOPBOT_STORE_DB`) and
    `SHOPBOT_PUBLIC_URL`: the same question, confirmation and return, an absolute link, and the bot's process
    (another connection to the file) finds the return by its label token."""
    import urllib.request

    from tests.support import ActionServer

    store_db = tmp_path / "store.db"
    demo_backend(store_db)  # seeded once; the server opens the same file
    with ActionServer(tmp_path / "actions", store_db,
                      env={"SHOPBOT_PUBLIC_URL": "https://chat.pinecrest.example"}) as server:
        def post(request: dict[str, Any]) -> dict[str, Any]:
            body = json.dumps(request).encode()
            headers = {"Content-Type": "application/json"}
            with urllib.request.urlopen(urllib.request.Request(f"{server.url}/webhook", body, headers),
                                        timeout=60) as response:
                return json.loads(response.read())

        shopper = Shopper(FREYA, sender="rest:remote", send=post)
        asked = shopper.start()
        confirm = shopper.answer("2")
        done = shopper.confirm()
    assert "Which item from order 10441" in text_of(asked) and len(buttons(asked)) == 5
    assert text_of(confirm) == "Return the Waypoint Low (size 10.5) from order 10441 for a refund?"
    link = json.loads(json.dumps(done["responses"][0]["custom"]))["return"]["label_url"]
    assert link.startswith("https://chat.pinecrest.example/returns/labels/R10441-") and link in text_of(done)
    return_id, token = link.rsplit("/", 2)[1], link.rsplit("/", 1)[1].removesuffix(".pdf")
    bots_view = demo_backend(store_db)
    assert [i["title"] for i in bots_view.return_label(return_id, token)["items"]] == ["Waypoint Low"]
