"""Circuit breakers per workspace and provider, so a provider that keeps failing is skipped for a
while instead of being called (and waited for) on every generation.

closed ──(failure_threshold consecutive retryable failures)──► open ──(reset_after s)──► half-open
half-open lets exactly one trial call through: success closes the circuit, a retryable failure
opens it again for another `reset_after` seconds.

Only failures that say the provider is down or overloaded count (rate limits, 5xx, timeouts). A
bad key or a rejected request says nothing about the provider's health, so it neither counts nor
resets the count.
"""

import time
from collections.abc import Callable
from enum import StrEnum

from flashfusion.ai.types import ProviderError


class BreakerState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


def counts_toward_opening(error: BaseException) -> bool:
    """True for the failures that mean "the provider is unwell": retryable provider errors."""
    return isinstance(error, ProviderError) and error.retryable


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_after < 0:
            raise ValueError("reset_after must not be negative")
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._state = BreakerState.closed
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The current state; an open circuit reads as half-open once `reset_after` has passed."""
        if self._state is BreakerState.open and self._clock() - self._opened_at >= self.reset_after:
            return BreakerState.half_open
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def retry_in(self) -> float:
        """Seconds until an open circuit lets a trial call through (0 when it is not open)."""
        if self._state is not BreakerState.open:
            return 0.0
        return max(0.0, self.reset_after - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """May a call go out now? In half-open this hands out the single trial slot."""
        state = self.state
        if state is BreakerState.closed:
            return True
        if state is BreakerState.open:
            return False
        if self._trial_in_flight:
            return False
        self._state = BreakerState.half_open
        self._trial_in_flight = True
        return True

    def record_success(self) -> None:
        self._state = BreakerState.closed
        self._failures = 0
        self._trial_in_flight = False

    def record_failure(self, error: BaseException) -> bool:
        """Count `error` if it is a retryable provider failure; True when it was counted.

        A failed half-open trial opens the circuit again at once. A failure that does not count
        still gives back the half-open trial slot, so the next call may try again.
        """
        was_trial = self._trial_in_flight
        self._trial_in_flight = False
        if not counts_toward_opening(error):
            return False
        self._failures += 1
        if was_trial or self._state is BreakerState.half_open:
            self._open()
        elif self._state is BreakerState.closed and self._failures >= self.failure_threshold:
            self._open()
        return True

    def release(self) -> None:
        """Give back a half-open trial slot without an outcome (the call was cancelled)."""
        self._trial_in_flight = False

    def _open(self) -> None:
        self._state = BreakerState.open
        self._opened_at = self._clock()


class BreakerRegistry:
    """One breaker per key; the router uses "<organization id>:<provider>" so one workspace's bad
    luck (or bad key) never trips another workspace's circuit."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    @staticmethod
    def key_for(organization_id: str, provider: str) -> str:
        return f"{organization_id}:{provider}"

    def get(self, key: str) -> CircuitBreaker:
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = CircuitBreaker(
                failure_threshold=self.failure_threshold,
                reset_after=self.reset_after,
                clock=self._clock,
            )
            self._breakers[key] = breaker
        return breaker

    def snapshot(self) -> dict[str, str]:
        """State of every breaker seen so far, e.g. {"org-1:openai": "open"}."""
        return {key: str(breaker.state) for key, breaker in sorted(self._breakers.items())}
