"""Duplicate and near-duplicate listing copy, within a workspace and across the platform.

`record` keeps one fingerprint per (listing copy, field); `check` compares a fingerprint with
the workspace's own library (the matching listing is named) and with every other workspace's
(only the similarity is told: never the other workspace, its listing or its text). Findings are
WARN: similar copy is a risk to look at, not proof of copying.

The organization id comes from the safeguard pipeline, which got it from `authz`.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.authz.types import AccessibleOrganizationID
from flashfusion.content.repository import ListingCopyRepository
from flashfusion.exceptions import ResourceNotFound
from flashfusion.models import ContentFingerprint
from flashfusion.safeguard.plagiarism.minhash import Fingerprint
from flashfusion.safeguard.plagiarism.repository import (
    ContentFingerprintRepository,
    ForeignMatch,
    OwnMatch,
)
from flashfusion.safeguard.types import Category, Finding, Verdict

DEFAULT_THRESHOLD = 0.8  # FlashFusion default: estimated Jaccard of word 3-shingles
# FlashFusion limit: own-workspace matches reported per check (the most similar first).
MAX_OWN_FINDINGS = 10
MAX_FIELD_LENGTH = 64


def _check_field(field: str) -> None:
    if not field or len(field) > MAX_FIELD_LENGTH or field != field.strip():
        raise ValueError(
            f"field must be a field name of 1-{MAX_FIELD_LENGTH} characters, got {field!r}"
        )


def _check_threshold(threshold: float) -> None:
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")


async def record(
    session: AsyncSession,
    organization_id: AccessibleOrganizationID,
    listing_copy_id: uuid.UUID,
    version: int,
    field: str,
    fingerprint: Fingerprint,
) -> ContentFingerprint | None:
    """Store `fingerprint` as the one for (listing copy, field), replacing the previous one.

    A fingerprint of an older version than the stored one is ignored (jobs may finish out of
    order). A text without words removes the stored fingerprint. Returns the stored row, or None
    when nothing is stored for this version. A listing copy outside the workspace is a 404.
    """
    _check_field(field)
    if version < 1:
        raise ValueError(f"listing_copy_version must be 1 or more, got {version!r}")
    copies = ListingCopyRepository.from_session(session)
    if await copies.get_for_organizations(listing_copy_id, {organization_id}) is None:
        raise ResourceNotFound("Listing copy")
    repository = ContentFingerprintRepository.from_session(session)
    if fingerprint.empty:
        await repository.delete_for(
            organization_id, listing_copy_id=listing_copy_id, field=field, up_to_version=version
        )
        return None
    stored = await repository.replace(
        organization_id,
        listing_copy_id=listing_copy_id,
        version=version,
        field=field,
        fingerprint=fingerprint,
    )
    if stored is None:
        return None
    return await repository.get_for(organization_id, listing_copy_id, field)


def _percent(similarity: float) -> str:
    return f"{round(similarity * 100)}%"


def _own_finding(match: OwnMatch, field: str) -> Finding:
    if match.exact:
        code = "plagiarism.duplicate"
        message = (
            f"This {field} is identical to the {field} of another listing in your workspace "
            f"(listing copy {match.listing_copy_id}). Give each listing its own {field}."
        )
    else:
        code = "plagiarism.near_duplicate"
        message = (
            f"This {field} is {_percent(match.similarity)} similar to the {field} of another "
            f"listing in your workspace (listing copy {match.listing_copy_id}). Rewrite it so "
            "the two listings read differently."
        )
    return Finding(
        category=Category.plagiarism,
        code=code,
        verdict=Verdict.warn,
        message=message,
        evidence={
            "listing_copy_id": str(match.listing_copy_id),
            "similarity": round(match.similarity, 3),
            "scope": "workspace",
        },
        score=round(match.similarity, 3),
    )


def _foreign_finding(match: ForeignMatch, field: str) -> Finding:
    private = (
        "That listing belongs to another workspace, so it is not shown: FlashFusion never "
        "reveals another workspace's listing or text."
    )
    if match.exact:
        code = "plagiarism.duplicate"
        message = (
            f"This {field} is identical to a {field} on another FlashFusion workspace. {private} "
            f"If you did not write it yourself, write your own {field}."
        )
    else:
        code = "plagiarism.near_duplicate"
        message = (
            f"This {field} is {_percent(match.similarity)} similar to a {field} on another "
            f"FlashFusion workspace. {private} If you did not write it yourself, rewrite it."
        )
    return Finding(
        category=Category.plagiarism,
        code=code,
        verdict=Verdict.warn,
        message=message,
        evidence={"similarity": round(match.similarity, 3), "scope": "other_workspace"},
        score=round(match.similarity, 3),
    )


async def check(
    session: AsyncSession,
    organization_id: AccessibleOrganizationID,
    fingerprint: Fingerprint,
    *,
    field: str,
    exclude_listing_copy_id: uuid.UUID | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Finding]:
    """Duplicates and near-duplicates of `fingerprint` among the stored `field` fingerprints.

    Own workspace: one finding per similar listing (at most MAX_OWN_FINDINGS), naming it.
    Other workspaces: at most one finding, for the closest match, with its similarity only.
    `exclude_listing_copy_id` is the listing being screened (it always matches itself).
    """
    _check_field(field)
    _check_threshold(threshold)
    if fingerprint.empty:
        return []
    repository = ContentFingerprintRepository.from_session(session)
    own = await repository.similar_in_workspace(
        organization_id, fingerprint, field=field, exclude_listing_copy_id=exclude_listing_copy_id
    )
    findings = [
        _own_finding(match, field) for match in own if match.exact or match.similarity >= threshold
    ][:MAX_OWN_FINDINGS]
    foreign = await repository.similarities_in_other_workspaces(
        organization_id, fingerprint, field=field
    )
    closest = max(foreign, key=lambda m: (m.exact, m.similarity), default=None)
    if closest is not None and (closest.exact or closest.similarity >= threshold):
        findings.append(_foreign_finding(closest, field))
    return findings
