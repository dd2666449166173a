import pytest

from flashfusion.ai.breaker import BreakerRegistry, BreakerState, CircuitBreaker
from flashfusion.ai.types import (
    ContentRefused,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def down() -> ProviderUnavailable:
    return ProviderUnavailable("openai", "500 Internal Server Error")


def test_opens_after_five_consecutive_retryable_failures() -> None:
    breaker = CircuitBreaker(clock=FakeClock())
    errors = [
        ProviderRateLimited("openai", "429", retry_after=1.0),
        ProviderUnavailable("openai", "503"),
        ProviderTimeout("openai", "no answer"),
        down(),
    ]
    for error in errors:
        assert breaker.record_failure(error) is True
        assert breaker.state is BreakerState.closed
        assert breaker.allow() is True
    breaker.record_failure(down())
    assert breaker.state is BreakerState.open
    assert breaker.consecutive_failures == 5
    assert breaker.allow() is False


def test_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failure_threshold=3, clock=FakeClock())
    breaker.record_failure(down())
    breaker.record_failure(down())
    breaker.record_success()
    assert breaker.consecutive_failures == 0
    breaker.record_failure(down())
    breaker.record_failure(down())
    assert breaker.state is BreakerState.closed


@pytest.mark.parametrize(
    "error",
    [
        ProviderAuthError("openai", "401 invalid key"),
        ProviderBadRequest("openai", "400 unknown model"),
        ContentRefused("openai", "refused"),
        ValueError("not a provider error"),
    ],
)
def test_non_retryable_failures_do_not_count(error: Exception) -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=FakeClock())
    assert breaker.record_failure(error) is False
    assert breaker.consecutive_failures == 0
    assert breaker.state is BreakerState.closed


def test_half_open_after_reset_after_allows_one_trial_and_closes_on_success() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after=30, clock=clock)
    breaker.record_failure(down())
    breaker.record_failure(down())
    assert breaker.state is BreakerState.open
    clock.now += 29.9
    assert breaker.state is BreakerState.open
    assert breaker.retry_in() == pytest.approx(0.1)
    assert breaker.allow() is False
    clock.now += 0.1
    assert breaker.state is BreakerState.half_open
    assert breaker.allow() is True  # the trial
    assert breaker.allow() is False  # only one trial at a time
    breaker.record_success()
    assert breaker.state is BreakerState.closed
    assert breaker.consecutive_failures == 0
    assert breaker.allow() is True


def test_failed_trial_opens_again_for_another_reset_after() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after=30, clock=clock)
    breaker.record_failure(down())
    breaker.record_failure(down())
    clock.now += 30
    assert breaker.allow() is True
    breaker.record_failure(ProviderTimeout("openai", "no answer"))
    assert breaker.state is BreakerState.open
    assert breaker.allow() is False
    clock.now += 29
    assert breaker.state is BreakerState.open
    clock.now += 1
    assert breaker.state is BreakerState.half_open


def test_a_trial_ending_in_an_auth_error_gives_the_slot_back() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after=10, clock=clock)
    breaker.record_failure(down())
    clock.now += 10
    assert breaker.allow() is True
    assert breaker.record_failure(ProviderAuthError("openai", "401")) is False
    assert breaker.state is BreakerState.half_open
    assert breaker.allow() is True


def test_release_gives_back_the_trial_slot() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after=5, clock=clock)
    breaker.record_failure(down())
    clock.now += 5
    assert breaker.allow() is True
    assert breaker.allow() is False
    breaker.release()
    assert breaker.allow() is True


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError, match="reset_after"):
        CircuitBreaker(reset_after=-1)


def test_registry_keeps_one_breaker_per_workspace_and_provider() -> None:
    clock = FakeClock()
    registry = BreakerRegistry(failure_threshold=1, reset_after=30, clock=clock)
    key = BreakerRegistry.key_for("org-1", "openai")
    assert key == "org-1:openai"
    assert registry.get(key) is registry.get(key)
    registry.get(key).record_failure(down())
    registry.get("org-2:openai")
    registry.get("org-1:anthropic")
    assert registry.snapshot() == {
        "org-1:anthropic": "closed",
        "org-1:openai": "open",
        "org-2:openai": "closed",
    }
    clock.now += 30
    assert registry.snapshot()["org-1:openai"] == "half_open"
    assert registry.get(key).failure_threshold == 1
    assert registry.get(key).reset_after == 30
