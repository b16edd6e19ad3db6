"""Hand the conversation to a person: the bot pauses until an agent gives it back."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType
from rasa_sdk.executor import CollectingDispatcher


class ActionHandoff(Action):
    """Pause the bot and tell the shopper a person will reply here."""

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text="I'm handing this chat to a member of our team. They'll reply here; you can "
                                      "keep writing and they'll see everything so far.",
                                 json_message={"handoff": True})
        return [ConversationPaused()]
