"""Running a form: activate it, validate what the message gave its slots (the store's `validate_<form>` action, as on
any rasa-sdk server), ask for the next missing slot, and once every slot is filled run the form's goal action.
Which values a message gives is the policy's call (`Decision.fills`); this module only carries the form out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, cast

from rasa_sdk.events import ActiveLoop, SlotSet

from bot.dialogue.domain import Domain
from bot.dialogue.executor import ActionUnavailable
from bot.dialogue.rendering import Renderer
from bot.dialogue.tracker import DialogueTracker
from bot.interfaces import ActionRunner, DomainDict, TrackerState
from bot.messages import Outbound

RunAction = Callable[[DialogueTracker, str], AsyncIterator[Outbound]]
ActionsDown = Callable[[DialogueTracker, str, Exception], AsyncIterator[Outbound]]


def deactivate(tracker: DialogueTracker) -> None:
    """No active form, no slot asked for."""
    if tracker.active_loop is not None:
        tracker.update(ActiveLoop(None))
    tracker.update(SlotSet("requested_slot", None))


class FormRunner:
    """Fills the domain's forms; `run_action` runs the goal once a form is complete, `actions_down` speaks for a
    validator that could not be run."""

    def __init__(self, domain: Domain, executor: ActionRunner, render: Renderer, run_action: RunAction,
                 actions_down: ActionsDown):
        self.domain = domain
        self.executor = executor
        self.render = render
        self.run_action = run_action
        self.actions_down = actions_down
        self._domain_dict = cast(DomainDict, domain.as_rasa_dict())

    async def fill(self, tracker: DialogueTracker, form: str, fills: Mapping[str, Any], activate: bool = False,
                   then: str | None = None) -> AsyncIterator[Outbound]:
        """One turn of `form` with the slot values `fills`: validated, then the next question or the goal."""
        if activate:
            if tracker.active_loop and tracker.active_loop != form:
                deactivate(tracker)
            tracker.update(ActiveLoop(form))
            tracker.update(SlotSet("goal_action", then))
        validator = f"validate_{form}"
        if validator in self.domain.actions:
            try:
                async for event in self._validate(tracker, validator, fills):
                    yield event
            except ActionUnavailable as exc:
                async for event in self.actions_down(tracker, validator, exc):
                    yield event
                return
        else:
            for name, value in fills.items():
                tracker.update(SlotSet(name, value))
        async for event in self._next(tracker, form):
            yield event

    async def _validate(self, tracker: DialogueTracker, validator: str,
                        fills: Mapping[str, Any]) -> AsyncIterator[Outbound]:
        """The candidate values as `SlotSet`s after the shopper's message, as Rasa hands them to a validator."""
        state = tracker.to_rasa_state()
        state["events"] = state["events"] + [SlotSet(k, v) for k, v in fills.items()]
        state["slots"] = {**state["slots"], **fills}
        result = await self.executor.run(validator, cast(TrackerState, state), self._domain_dict)
        for event in result.events:
            tracker.update(event)
        for response in result.responses:
            yield self.render.response(tracker, response)

    async def _next(self, tracker: DialogueTracker, form: str) -> AsyncIterator[Outbound]:
        if tracker.active_loop != form:  # the validator stopped the form (identity checks used up)
            tracker.update(SlotSet("requested_slot", None))
            tracker.update(SlotSet("goal_action", None))
            return
        missing = next((s for s in self.domain.forms[form].required_slots if tracker.slots.get(s) in (None, "")), None)
        if missing is not None:
            tracker.update(SlotSet("requested_slot", missing))
            yield self.render.utter(tracker, f"utter_ask_{missing}")
            return
        deactivate(tracker)
        goal = tracker.slots.get("goal_action")
        if goal:
            async for event in self.run_action(tracker, goal):
                yield event
