"""A/B experiments on a listing's title or description: 2–4 saved versions as variants with a
traffic split. Analytics reports each variant's impressions, clicks and orders through
`record_outcome`; the creator stops the experiment and names the winner."""

import builtins
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.content.repository import ContentExperimentRepository
from flashfusion.content.service import content as content_service
from flashfusion.exceptions import Conflict, ResourceNotFound, UnprocessableEntity
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import ContentExperiment, ListingCopy, utc_now
from flashfusion.studio.media import _creator_id

FIELDS = ("title", "description")
MIN_VARIANTS, MAX_VARIANTS = 2, 4
VARIANT_KEYS = "ABCD"
STATUSES = ("draft", "running", "stopped")


class InvalidExperiment(UnprocessableEntity):
    """The field, versions, traffic split or outcome is not usable; the message names it."""


class ExperimentStateConflict(Conflict):
    """The experiment is not in a state that allows this (e.g. starting a stopped one)."""


def even_split(n: int) -> list[int]:
    """100 % over n variants, the remainder to the first ones (3 → 34, 33, 33)."""
    return [100 // n + (1 if i < 100 % n else 0) for i in range(n)]


def _check_traffic(traffic: list[int] | None, n: int) -> list[int]:
    if traffic is None:
        return even_split(n)
    if len(traffic) != n:
        raise InvalidExperiment(
            f"traffic: give one percentage per version ({n}), got {len(traffic)}."
        )
    if any(not isinstance(p, int) or isinstance(p, bool) or not 1 <= p <= 99 for p in traffic):
        raise InvalidExperiment("traffic: each variant gets 1 to 99 percent.")
    if sum(traffic) != 100:
        raise InvalidExperiment(f"traffic: the percentages add up to {sum(traffic)}, not 100.")
    return list(traffic)


def _count(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidExperiment(f"{name}: must be a whole number, 0 or more.")
    return value


class ExperimentService:
    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        listing_copy_id: uuid.UUID | None,
        status: str | None,
        pagination: PaginationParams,
    ) -> tuple[builtins.list[ContentExperiment], int]:
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.content_read,
            organization_id=organization_id,
            action="content_experiment.list",
        )
        if status is not None and status not in STATUSES:
            raise InvalidExperiment(f"status: use one of {', '.join(STATUSES)}.")
        repository = ContentExperimentRepository.from_session(session)
        statement = repository.search_statement(
            readable, listing_copy_id=listing_copy_id, status=status
        )
        return await repository.paginate(statement, pagination)

    async def get(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        id: uuid.UUID,
        *,
        permission: Permission = Permission.content_read,
        action: str = "content_experiment.read",
    ) -> ContentExperiment:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        repository = ContentExperimentRepository.from_session(session)
        experiment = await repository.get_for_organizations(id, ids)
        if experiment is None:
            raise ResourceNotFound("Experiment")
        await authz.require(
            session,
            auth_subject,
            experiment.organization_id,
            permission,
            action=action,
            target_type="content_experiment",
            target_id=experiment.id,
        )
        return experiment

    async def create(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        copy: ListingCopy,
        field: str,
        versions: builtins.list[int],
        traffic: builtins.list[int] | None,
    ) -> ContentExperiment:
        """A draft experiment whose variants are saved versions of `copy` (A, B, …)."""
        await authz.require(
            session,
            auth_subject,
            copy.organization_id,
            Permission.content_manage,
            action="content_experiment.created",
            target_type="listing_copy",
            target_id=copy.id,
        )
        if field not in FIELDS:
            raise InvalidExperiment(f"field: test the {' or the '.join(FIELDS)}.")
        if not MIN_VARIANTS <= len(versions) <= MAX_VARIANTS:
            raise InvalidExperiment(
                f"versions: choose {MIN_VARIANTS} to {MAX_VARIANTS} versions of the listing "
                f"(got {len(versions)})."
            )
        if len(set(versions)) != len(versions):
            raise InvalidExperiment("versions: each version may be a variant only once.")
        split = _check_traffic(traffic, len(versions))
        texts: list[str] = []
        for number in versions:
            if number < 1 or number > copy.latest_version:
                raise InvalidExperiment(
                    f"versions: the listing has no version {number} (it has 1 to "
                    f"{copy.latest_version})."
                )
            version = await content_service.version(session, copy, number)
            text = version.fields.get(field) or ""
            if not text:
                raise InvalidExperiment(f"versions: version {number} has no {field}.")
            if text in texts:
                same = versions[texts.index(text)]
                raise InvalidExperiment(
                    f"versions: versions {same} and {number} have the same {field}; "
                    "an experiment needs different texts."
                )
            texts.append(text)
        experiment = ContentExperiment(
            organization_id=copy.organization_id,
            listing_copy_id=copy.id,
            field=field,
            variants=[
                {
                    "key": VARIANT_KEYS[i],
                    "version": number,
                    "text": texts[i],
                    "traffic_percent": split[i],
                    "impressions": None,
                    "clicks": None,
                    "orders": None,
                }
                for i, number in enumerate(versions)
            ],
            status="draft",
            created_by_user_id=_creator_id(auth_subject),
        )
        await ContentExperimentRepository.from_session(session).create(experiment)
        await audit_service.record(
            session,
            auth_subject,
            action="content_experiment.created",
            organization_id=copy.organization_id,
            target_type="content_experiment",
            target_id=experiment.id,
            details={"listing_copy_id": str(copy.id), "field": field, "versions": versions},
        )
        return experiment

    async def start(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        experiment: ContentExperiment,
    ) -> ContentExperiment:
        if experiment.status != "draft":
            raise ExperimentStateConflict(
                f"status: the experiment is {experiment.status}; only a draft can be started."
            )
        copy = await session.get(ListingCopy, experiment.listing_copy_id)
        assert copy is not None
        repository = ContentExperimentRepository.from_session(session)
        running = await repository.running_for(copy, experiment.field, excluding=experiment.id)
        if running is not None:
            # Two tests on the same field would split the same traffic: neither would tell.
            raise ExperimentStateConflict(
                f"status: experiment {running.id} already tests this listing's "
                f"{experiment.field}; stop it first."
            )
        await repository.update(experiment, values={"status": "running", "started_at": utc_now()})
        await self._audit(session, auth_subject, experiment, "content_experiment.started", {})
        return experiment

    async def stop(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        experiment: ContentExperiment,
        winner: str | None,
    ) -> ContentExperiment:
        if experiment.status != "running":
            raise ExperimentStateConflict(
                f"status: the experiment is {experiment.status}; only a running one can be stopped."
            )
        keys = [v["key"] for v in experiment.variants]
        if winner is not None and winner not in keys:
            raise InvalidExperiment(f"winner: name one of the variants {', '.join(keys)}.")
        await ContentExperimentRepository.from_session(session).update(
            experiment, values={"status": "stopped", "winner": winner, "ended_at": utc_now()}
        )
        await self._audit(
            session, auth_subject, experiment, "content_experiment.stopped", {"winner": winner}
        )
        return experiment

    async def record_outcome(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject] | None,
        experiment: ContentExperiment,
        variant: str,
        impressions: int,
        clicks: int,
        orders: int,
    ) -> ContentExperiment:
        """Set a variant's totals so far (not increments: reporting twice changes nothing)."""
        if experiment.status == "draft":
            raise ExperimentStateConflict(
                "status: the experiment has not started; start it before recording outcomes."
            )
        counts = {
            "impressions": _count("impressions", impressions),
            "clicks": _count("clicks", clicks),
            "orders": _count("orders", orders),
        }
        keys = [v["key"] for v in experiment.variants]
        if variant not in keys:
            raise InvalidExperiment(f"variant: name one of the variants {', '.join(keys)}.")
        experiment.variants = [
            {**v, **counts} if v["key"] == variant else dict(v) for v in experiment.variants
        ]
        flag_modified(experiment, "variants")
        await session.flush()
        await self._audit(
            session,
            auth_subject,
            experiment,
            "content_experiment.outcome_recorded",
            {"variant": variant, **counts},
        )
        return experiment

    async def _audit(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject] | None,
        experiment: ContentExperiment,
        action: str,
        details: dict[str, Any],
    ) -> None:
        await audit_service.record(
            session,
            auth_subject,
            action=action,
            organization_id=experiment.organization_id,
            target_type="content_experiment",
            target_id=experiment.id,
            details=details,
        )


experiment = ExperimentService()
