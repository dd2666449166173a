"""The per-channel state machine of a listing, and of the intents that drive it.

Only the transitions below exist; anything else is a bug and raises `IllegalTransition`.
Moving a listing to the state it is already in changes nothing: every workflow step runs at
least once, and a step that runs again must not fail on its own earlier write.
"""

from flashfusion.models.channel_listing import ChannelListing, ListingState
from flashfusion.models.publish_intent import IntentState, PublishIntent

L = ListingState
I = IntentState  # noqa: E741

LISTING_TRANSITIONS: dict[ListingState, frozenset[ListingState]] = {
    L.queued: frozenset({L.publishing, L.unpublishing}),
    L.publishing: frozenset({L.published, L.failed, L.needs_action}),
    # An update republishes the listing; unpublishing takes it down.
    L.published: frozenset({L.publishing, L.unpublishing}),
    L.unpublishing: frozenset({L.unpublished, L.failed, L.needs_action}),
    # A retry queues it again; a live listing whose update failed may still be taken down.
    L.failed: frozenset({L.queued, L.unpublishing}),
    L.needs_action: frozenset({L.queued, L.unpublishing}),
    # Published again later.
    L.unpublished: frozenset({L.queued}),
}

INTENT_TRANSITIONS: dict[IntentState, frozenset[IntentState]] = {
    I.queued: frozenset({I.running}),
    I.running: frozenset({I.succeeded, I.failed, I.needs_action}),
    I.succeeded: frozenset(),
    # Retry: a new run of the same intent (find-before-create keeps it safe).
    I.failed: frozenset({I.queued}),
    I.needs_action: frozenset({I.queued}),
}

# Intents still to be acted on: a new request for the same content joins them.
OPEN_INTENT_STATES = frozenset({I.queued, I.running})
RETRYABLE_INTENT_STATES = frozenset({I.failed, I.needs_action})


class IllegalTransition(RuntimeError):
    """A state change the state machine does not allow."""

    def __init__(self, kind: str, current: str, target: str) -> None:
        super().__init__(f"{kind} cannot go from {current} to {target}")
        self.current = current
        self.target = target


def can_move(current: ListingState, target: ListingState) -> bool:
    return current == target or target in LISTING_TRANSITIONS[current]


def move_listing(listing: ChannelListing, target: ListingState) -> None:
    """Set the listing's state, or raise IllegalTransition."""
    current = ListingState(listing.state)
    if current == target:
        return
    if target not in LISTING_TRANSITIONS[current]:
        raise IllegalTransition("A channel listing", current.value, target.value)
    listing.state = target


def move_intent(intent: PublishIntent, target: IntentState) -> None:
    """Set the intent's state, or raise IllegalTransition."""
    current = IntentState(intent.state)
    if current == target:
        return
    if target not in INTENT_TRANSITIONS[current]:
        raise IllegalTransition("A publish intent", current.value, target.value)
    intent.state = target
