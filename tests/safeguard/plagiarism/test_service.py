"""Recording fingerprints and checking for duplicates, in a workspace and across workspaces,
against the real database (SQLite, and PostgreSQL when FLASHFUSION_TEST_DATABASE_URL is set)."""

import json
import uuid

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.authz.types import AccessibleOrganizationID
from flashfusion.exceptions import ResourceNotFound
from flashfusion.models import (
    ContentFingerprint,
    ContentFingerprintBand,
    ListingCopy,
    ListingCopyStatus,
    Organization,
)
from flashfusion.safeguard.plagiarism import check, fingerprint, record
from flashfusion.safeguard.plagiarism.minhash import estimate_similarity
from flashfusion.safeguard.plagiarism.service import MAX_OWN_FINDINGS
from flashfusion.safeguard.types import Category, Verdict
from tests.conftest import count_rows
from tests.fixtures.objects import create_organization

DESCRIPTION = (
    "This soft cotton tee is made for slow mornings and strong coffee. The print is applied "
    "with water based inks that stay bright wash after wash. Choose your size from the chart, "
    "pick a colour you love and wear it with jeans, shorts or under a flannel shirt on cold "
    "days. Every shirt is printed to order in our studio and ships within three business days."
)
NEAR = DESCRIPTION.replace("strong coffee", "black coffee")
UNRELATED = (
    "A ceramic mug with a glossy glaze that keeps tea warm through long winter evenings. "
    "Dishwasher and microwave safe, holds eleven ounces, and comes in a gift box."
)


def org_id(organization: Organization) -> AccessibleOrganizationID:
    return AccessibleOrganizationID(organization.id)


async def create_copy(session: AsyncSession, organization: Organization) -> ListingCopy:
    copy = ListingCopy(
        id=uuid.uuid4(),
        organization_id=organization.id,
        subject=f"idea:{uuid.uuid4().hex}",
        idea="Coffee first",
        product_type="tshirt",
        platform="etsy",
        language="en",
        status=ListingCopyStatus.ready,
        latest_version=1,
    )
    session.add(copy)
    await session.flush()
    return copy


async def stored(session: AsyncSession, copy: ListingCopy) -> list[ContentFingerprint]:
    result = await session.execute(
        select(ContentFingerprint)
        .where(ContentFingerprint.listing_copy_id == copy.id)
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


async def bands(session: AsyncSession, fingerprint_id: uuid.UUID) -> int:
    result = await session.execute(
        select(func.count()).where(ContentFingerprintBand.fingerprint_id == fingerprint_id)
    )
    return int(result.scalar_one())


async def fingerprints(session: AsyncSession, fingerprint_id: uuid.UUID) -> int:
    result = await session.execute(
        select(func.count()).where(ContentFingerprint.id == fingerprint_id)
    )
    return int(result.scalar_one())


async def buckets_of(session: AsyncSession, fingerprint_id: uuid.UUID) -> list[int]:
    result = await session.execute(
        select(ContentFingerprintBand.bucket)
        .where(ContentFingerprintBand.fingerprint_id == fingerprint_id)
        .order_by(ContentFingerprintBand.band)
    )
    return list(result.scalars())


@pytest.fixture
async def workspace(session: AsyncSession) -> Organization:
    return await create_organization(session, name="Workspace A")


@pytest.fixture
async def other(session: AsyncSession) -> Organization:
    return await create_organization(session, name="Workspace B")


# --- record ----------------------------------------------------------------------------------


async def test_record_stores_the_fingerprint_and_its_bands(
    session: AsyncSession, workspace: Organization
) -> None:
    copy = await create_copy(session, workspace)
    f = fingerprint(DESCRIPTION)
    row = await record(session, org_id(workspace), copy.id, 1, "description", f)
    assert row is not None
    assert (row.organization_id, row.listing_copy_id, row.listing_copy_version, row.field) == (
        workspace.id,
        copy.id,
        1,
        "description",
    )
    assert row.text_sha256 == f.text_sha256
    assert row.signature == f.signature
    assert row.created_at is not None
    assert await buckets_of(session, row.id) == list(f.buckets)


async def test_record_replaces_the_previous_fingerprint_of_the_listing_field(
    session: AsyncSession, workspace: Organization
) -> None:
    copy = await create_copy(session, workspace)
    first = await record(
        session, org_id(workspace), copy.id, 1, "description", fingerprint(DESCRIPTION)
    )
    title = await record(
        session, org_id(workspace), copy.id, 1, "title", fingerprint("Coffee First Tee")
    )
    second = await record(
        session, org_id(workspace), copy.id, 2, "description", fingerprint(UNRELATED)
    )
    assert first is not None
    assert second is not None
    assert title is not None
    assert second.id == first.id  # the same row, updated in place
    rows = {row.field: row for row in await stored(session, copy)}
    assert set(rows) == {"description", "title"}
    assert rows["description"].listing_copy_version == 2
    assert rows["description"].text_sha256 == fingerprint(UNRELATED).text_sha256
    assert await buckets_of(session, second.id) == list(fingerprint(UNRELATED).buckets)
    assert await bands(session, second.id) == 32
    # The title's fingerprint is untouched.
    assert rows["title"].text_sha256 == fingerprint("Coffee First Tee").text_sha256


async def test_an_older_version_never_replaces_a_newer_one(
    session: AsyncSession, workspace: Organization
) -> None:
    copy = await create_copy(session, workspace)
    await record(session, org_id(workspace), copy.id, 3, "description", fingerprint(DESCRIPTION))
    late = await record(
        session, org_id(workspace), copy.id, 2, "description", fingerprint(UNRELATED)
    )
    assert late is None
    [row] = await stored(session, copy)
    assert (row.listing_copy_version, row.text_sha256) == (3, fingerprint(DESCRIPTION).text_sha256)
    assert await buckets_of(session, row.id) == list(fingerprint(DESCRIPTION).buckets)
    # The same version again (a job run twice) is stored again, unchanged.
    again = await record(
        session, org_id(workspace), copy.id, 3, "description", fingerprint(DESCRIPTION)
    )
    assert again is not None
    assert again.id == row.id


async def test_a_text_without_words_removes_the_fingerprint(
    session: AsyncSession, workspace: Organization
) -> None:
    copy = await create_copy(session, workspace)
    await record(session, org_id(workspace), copy.id, 1, "description", fingerprint(DESCRIPTION))
    assert (
        await record(session, org_id(workspace), copy.id, 2, "description", fingerprint(" ... "))
        is None
    )
    assert await stored(session, copy) == []
    assert await count_rows(session, "content_fingerprint_bands") == 0


async def test_deleting_the_listing_copy_deletes_its_fingerprints(
    session: AsyncSession, workspace: Organization
) -> None:
    copy = await create_copy(session, workspace)
    row = await record(
        session, org_id(workspace), copy.id, 1, "description", fingerprint(DESCRIPTION)
    )
    assert row is not None
    await session.execute(delete(ListingCopy).where(ListingCopy.id == copy.id))
    assert await fingerprints(session, row.id) == 0
    assert await bands(session, row.id) == 0


async def test_a_listing_of_another_workspace_is_not_found_and_nothing_is_stored(
    session: AsyncSession, workspace: Organization, other: Organization
) -> None:
    foreign = await create_copy(session, other)
    with pytest.raises(ResourceNotFound, match="Listing copy not found"):
        await record(
            session, org_id(workspace), foreign.id, 1, "description", fingerprint(DESCRIPTION)
        )
    with pytest.raises(ResourceNotFound):
        await record(
            session, org_id(workspace), uuid.uuid4(), 1, "description", fingerprint(DESCRIPTION)
        )
    assert await count_rows(session, "content_fingerprints") == 0


@pytest.mark.parametrize(
    ("version", "field", "message"),
    [
        (0, "description", "listing_copy_version must be 1 or more"),
        (1, "", "field must be a field name"),
        (1, "x" * 65, "field must be a field name"),
    ],
)
async def test_record_rejects_bad_arguments(
    session: AsyncSession, workspace: Organization, version: int, field: str, message: str
) -> None:
    copy = await create_copy(session, workspace)
    with pytest.raises(ValueError, match=message):
        await record(session, org_id(workspace), copy.id, version, field, fingerprint(DESCRIPTION))
    assert await count_rows(session, "content_fingerprints") == 0


# --- check within the workspace --------------------------------------------------------------


async def test_exact_duplicate_in_the_workspace_names_the_listing(
    session: AsyncSession, workspace: Organization
) -> None:
    library = await create_copy(session, workspace)
    screened = await create_copy(session, workspace)
    await record(session, org_id(workspace), library.id, 1, "description", fingerprint(DESCRIPTION))
    await record(
        session, org_id(workspace), screened.id, 1, "description", fingerprint(DESCRIPTION.upper())
    )
    [finding] = await check(
        session,
        org_id(workspace),
        fingerprint(DESCRIPTION.upper()),
        field="description",
        exclude_listing_copy_id=screened.id,
    )
    assert finding.as_dict() == {
        "category": "plagiarism",
        "code": "plagiarism.duplicate",
        "verdict": "warn",
        "message": "This description is identical to the description of another listing in your "
        f"workspace (listing copy {library.id}). Give each listing its own description.",
        "span": None,
        "evidence": {"listing_copy_id": str(library.id), "similarity": 1.0, "scope": "workspace"},
        "source": None,
        "score": 1.0,
    }
    # Without the exclusion the screened listing matches itself as well.
    both = await check(session, org_id(workspace), fingerprint(DESCRIPTION), field="description")
    assert sorted(f.evidence["listing_copy_id"] for f in both) == sorted(
        [str(library.id), str(screened.id)]
    )


async def test_near_duplicate_uses_the_estimate_and_the_threshold(
    session: AsyncSession, workspace: Organization
) -> None:
    library = await create_copy(session, workspace)
    await record(session, org_id(workspace), library.id, 1, "description", fingerprint(DESCRIPTION))
    near = fingerprint(NEAR)
    similarity = estimate_similarity(near.signature, fingerprint(DESCRIPTION).signature)
    assert 0.8 <= similarity < 1.0
    [finding] = await check(session, org_id(workspace), near, field="description")
    assert finding.code == "plagiarism.near_duplicate"
    assert finding.category == Category.plagiarism
    assert finding.verdict == Verdict.warn
    assert finding.evidence == {
        "listing_copy_id": str(library.id),
        "similarity": round(similarity, 3),
        "scope": "workspace",
    }
    assert f"is {round(similarity * 100)}% similar" in finding.message
    # Above the estimate: no finding.
    assert await check(session, org_id(workspace), near, field="description", threshold=1.0) == []


async def test_unrelated_text_other_fields_and_empty_text_find_nothing(
    session: AsyncSession, workspace: Organization
) -> None:
    library = await create_copy(session, workspace)
    await record(session, org_id(workspace), library.id, 1, "description", fingerprint(DESCRIPTION))
    assert (
        await check(session, org_id(workspace), fingerprint(UNRELATED), field="description") == []
    )
    # The same text in another field is not compared with descriptions.
    assert await check(session, org_id(workspace), fingerprint(DESCRIPTION), field="title") == []
    assert await check(session, org_id(workspace), fingerprint("?!"), field="description") == []


async def test_own_findings_are_capped(session: AsyncSession, workspace: Organization) -> None:
    for _ in range(MAX_OWN_FINDINGS + 2):
        copy = await create_copy(session, workspace)
        await record(
            session, org_id(workspace), copy.id, 1, "description", fingerprint(DESCRIPTION)
        )
    found = await check(session, org_id(workspace), fingerprint(DESCRIPTION), field="description")
    assert len(found) == MAX_OWN_FINDINGS
    assert {f.code for f in found} == {"plagiarism.duplicate"}


@pytest.mark.parametrize("threshold", [0, -0.1, 1.5])
async def test_check_rejects_a_bad_threshold(
    session: AsyncSession, workspace: Organization, threshold: float
) -> None:
    with pytest.raises(ValueError, match="threshold must be in"):
        await check(
            session,
            org_id(workspace),
            fingerprint(DESCRIPTION),
            field="description",
            threshold=threshold,
        )


# --- check across workspaces -----------------------------------------------------------------


async def test_a_duplicate_in_another_workspace_reveals_nothing_about_it(
    session: AsyncSession, workspace: Organization, other: Organization
) -> None:
    foreign = await create_copy(session, other)
    foreign_row = await record(
        session, org_id(other), foreign.id, 1, "description", fingerprint(DESCRIPTION)
    )
    assert foreign_row is not None
    [finding] = await check(
        session, org_id(workspace), fingerprint(DESCRIPTION), field="description"
    )
    assert finding.as_dict() == {
        "category": "plagiarism",
        "code": "plagiarism.duplicate",
        "verdict": "warn",
        "message": "This description is identical to a description on another FlashFusion "
        "workspace. That listing belongs to another workspace, so it is not shown: FlashFusion "
        "never reveals another workspace's listing or text. If you did not write it yourself, "
        "write your own description.",
        "span": None,
        "evidence": {"similarity": 1.0, "scope": "other_workspace"},
        "source": None,
        "score": 1.0,
    }
    dumped = json.dumps(finding.as_dict()).casefold()
    for secret in (
        str(other.id),
        other.id.hex,
        str(foreign.id),
        foreign.id.hex,
        str(foreign_row.id),
        foreign_row.text_sha256,
        other.name.casefold(),
        other.slug.casefold(),
        "cotton",  # any of its words
        "slow mornings",
    ):
        assert secret.casefold() not in dumped, secret


async def test_a_near_duplicate_in_another_workspace_gives_only_the_closest_similarity(
    session: AsyncSession, workspace: Organization, other: Organization
) -> None:
    third = await create_organization(session, name="Workspace C")
    for organization, text in ((other, NEAR), (third, NEAR.replace("jeans", "chinos"))):
        copy = await create_copy(session, organization)
        await record(session, org_id(organization), copy.id, 1, "description", fingerprint(text))
    mine = fingerprint(DESCRIPTION)
    best = max(
        estimate_similarity(mine.signature, fingerprint(t).signature)
        for t in (NEAR, NEAR.replace("jeans", "chinos"))
    )
    [finding] = await check(session, org_id(workspace), mine, field="description")
    assert finding.code == "plagiarism.near_duplicate"
    assert finding.evidence == {"similarity": round(best, 3), "scope": "other_workspace"}
    assert "not shown" in finding.message
    assert str(other.id) not in json.dumps(finding.as_dict())
    assert str(third.id) not in json.dumps(finding.as_dict())


async def test_own_and_foreign_findings_together(
    session: AsyncSession, workspace: Organization, other: Organization
) -> None:
    mine = await create_copy(session, workspace)
    theirs = await create_copy(session, other)
    await record(session, org_id(workspace), mine.id, 1, "description", fingerprint(DESCRIPTION))
    await record(session, org_id(other), theirs.id, 1, "description", fingerprint(DESCRIPTION))
    found = await check(session, org_id(workspace), fingerprint(DESCRIPTION), field="description")
    assert [
        (f.code, f.evidence.get("scope"), f.evidence.get("listing_copy_id")) for f in found
    ] == [
        ("plagiarism.duplicate", "workspace", str(mine.id)),
        ("plagiarism.duplicate", "other_workspace", None),
    ]
    # The other workspace sees the same pair from its side, again without our ids.
    seen = await check(
        session,
        org_id(other),
        fingerprint(DESCRIPTION),
        field="description",
        exclude_listing_copy_id=theirs.id,
    )
    assert [f.evidence for f in seen] == [{"similarity": 1.0, "scope": "other_workspace"}]
    assert str(mine.id) not in json.dumps([f.as_dict() for f in seen])
