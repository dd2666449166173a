"""Job kinds: a DBOS workflow plus what people see about it."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from dbos import DBOS

from flashfusion.jobs.engine import QUEUES

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str
    queue: str
    # May an admin enqueue a fresh run with the same arguments after a failure?
    retryable: bool = True


JOB_KINDS: dict[str, JobKind] = {}


def job(
    name: str, *, label: str, queue: str = "default", retryable: bool = True
) -> Callable[[F], F]:
    """Declare a DBOS workflow as a job kind. Its arguments must be ids, never secrets."""
    if queue not in QUEUES:
        raise ValueError(f"queue {queue!r} is not declared in flashfusion.jobs.engine.QUEUES")

    def decorator(fn: F) -> F:
        if name in JOB_KINDS:
            raise ValueError(f"job kind {name!r} declared twice")
        JOB_KINDS[name] = JobKind(name=name, label=label, queue=queue, retryable=retryable)
        return cast(F, DBOS.workflow(name=name)(fn))

    return decorator


def get_kind(name: str) -> JobKind | None:
    # Job kinds register on import of their domain's tasks module; make sure all did.
    import flashfusion.tasks  # noqa: F401

    return JOB_KINDS.get(name)
