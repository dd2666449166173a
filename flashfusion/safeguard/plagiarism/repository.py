"""All SQL of duplicate detection: storing fingerprints and finding LSH candidates."""

import functools
import uuid
from dataclasses import dataclass

from sqlalchemy import BigInteger, Subquery, and_, bindparam, delete, func, insert, or_, select

from flashfusion.authz.types import AccessibleOrganizationID
from flashfusion.kit.repository import TenantRepository, dialect_insert
from flashfusion.models import ContentFingerprint, ContentFingerprintBand
from flashfusion.safeguard.plagiarism.minhash import BANDS, Fingerprint, estimate_similarity

# FlashFusion limit: the candidates (most shared bands first) whose signatures are compared.
# Exact and near duplicates share most bands, so they come first; the cap bounds the work when
# one text is copied into thousands of listings.
MAX_CANDIDATES = 200


@dataclass(frozen=True)
class OwnMatch:
    """A candidate from the caller's own workspace."""

    listing_copy_id: uuid.UUID
    similarity: float
    exact: bool


@dataclass(frozen=True)
class ForeignMatch:
    """A candidate from another workspace: how similar it is, and nothing else."""

    similarity: float
    exact: bool


@functools.cache
def _hits() -> Subquery:
    """Fingerprint ids sharing at least one band bucket with the `bucket_<band>` parameters,
    with how many they share. Built once: the 64 comparisons cost more to build than to run."""
    band = ContentFingerprintBand
    shared = or_(
        *(
            and_(band.band == i, band.bucket == bindparam(f"bucket_{i}", type_=BigInteger))
            for i in range(BANDS)
        )
    )
    return (
        select(band.fingerprint_id, func.count().label("hits"))
        .where(shared)
        .group_by(band.fingerprint_id)
        .subquery()
    )


def _bucket_params(fingerprint: Fingerprint) -> dict[str, int]:
    return {f"bucket_{i}": bucket for i, bucket in enumerate(fingerprint.buckets)}


class ContentFingerprintRepository(TenantRepository[ContentFingerprint]):
    model = ContentFingerprint

    async def get_for(
        self, organization_id: AccessibleOrganizationID, listing_copy_id: uuid.UUID, field: str
    ) -> ContentFingerprint | None:
        return await self.get_one_or_none(
            self.statement_for_organizations({organization_id})
            .where(
                ContentFingerprint.listing_copy_id == listing_copy_id,
                ContentFingerprint.field == field,
            )
            .execution_options(populate_existing=True)
        )

    async def replace(
        self,
        organization_id: AccessibleOrganizationID,
        *,
        listing_copy_id: uuid.UUID,
        version: int,
        field: str,
        fingerprint: Fingerprint,
    ) -> uuid.UUID | None:
        """Store the fingerprint of (listing copy, field), replacing the one there unless that
        one is of a newer version. Returns the row id, or None when a newer one was kept.

        One INSERT .. ON CONFLICT DO UPDATE, so two writers never make two rows; then the
        bands of that row are rewritten."""
        statement = dialect_insert(self.session, ContentFingerprint).values(
            id=uuid.uuid4(),
            organization_id=organization_id,
            listing_copy_id=listing_copy_id,
            listing_copy_version=version,
            field=field,
            text_sha256=fingerprint.text_sha256,
            signature=fingerprint.signature,
            created_at=func.now(),
        )
        statement = statement.on_conflict_do_update(
            index_elements=["listing_copy_id", "field"],
            set_={
                "listing_copy_version": statement.excluded.listing_copy_version,
                "text_sha256": statement.excluded.text_sha256,
                "signature": statement.excluded.signature,
                "created_at": statement.excluded.created_at,
            },
            where=ContentFingerprint.listing_copy_version
            <= statement.excluded.listing_copy_version,
        ).returning(ContentFingerprint.id)
        fingerprint_id = (await self.session.execute(statement)).scalar_one_or_none()
        if fingerprint_id is None:
            return None
        await self.session.execute(
            delete(ContentFingerprintBand).where(
                ContentFingerprintBand.fingerprint_id == fingerprint_id
            )
        )
        await self.session.execute(
            insert(ContentFingerprintBand),
            [
                {"fingerprint_id": fingerprint_id, "band": i, "bucket": bucket}
                for i, bucket in enumerate(fingerprint.buckets)
            ],
        )
        return fingerprint_id

    async def delete_for(
        self,
        organization_id: AccessibleOrganizationID,
        *,
        listing_copy_id: uuid.UUID,
        field: str,
        up_to_version: int,
    ) -> int:
        """Remove the fingerprint of (listing copy, field) if it is not newer than
        `up_to_version` (its bands go with it: ON DELETE CASCADE). Returns rows removed."""
        result = await self.session.execute(
            delete(ContentFingerprint).where(
                ContentFingerprint.organization_id == organization_id,
                ContentFingerprint.listing_copy_id == listing_copy_id,
                ContentFingerprint.field == field,
                ContentFingerprint.listing_copy_version <= up_to_version,
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def similar_in_workspace(
        self,
        organization_id: AccessibleOrganizationID,
        fingerprint: Fingerprint,
        *,
        field: str,
        exclude_listing_copy_id: uuid.UUID | None,
    ) -> list[OwnMatch]:
        """The workspace's own fingerprints of `field` sharing a band with `fingerprint`,
        with their estimated similarity, most similar first."""
        hits = _hits()
        statement = (
            self.statement_for_organizations({organization_id})
            .with_only_columns(
                ContentFingerprint.listing_copy_id,
                ContentFingerprint.text_sha256,
                ContentFingerprint.signature,
            )
            .join(hits, hits.c.fingerprint_id == ContentFingerprint.id)
            .where(ContentFingerprint.field == field)
            .order_by(hits.c.hits.desc(), ContentFingerprint.listing_copy_id)
            .limit(MAX_CANDIDATES)
        )
        if exclude_listing_copy_id is not None:
            statement = statement.where(
                ContentFingerprint.listing_copy_id != exclude_listing_copy_id
            )
        rows = (await self.session.execute(statement, _bucket_params(fingerprint))).all()
        matches = [
            OwnMatch(
                listing_copy_id=row.listing_copy_id,
                similarity=1.0
                if row.text_sha256 == fingerprint.text_sha256
                else estimate_similarity(fingerprint.signature, row.signature),
                exact=row.text_sha256 == fingerprint.text_sha256,
            )
            for row in rows
        ]
        return sorted(matches, key=lambda m: (-m.similarity, str(m.listing_copy_id)))

    async def similarities_in_other_workspaces(
        self, organization_id: AccessibleOrganizationID, fingerprint: Fingerprint, *, field: str
    ) -> list[ForeignMatch]:
        """How similar `fingerprint` is to the `field` fingerprints of every OTHER workspace.

        This reads across tenants on purpose, and is the only method that does: the issue asks
        for duplicates "against all listings on the platform without revealing another
        workspace's text". So it selects only the hash and the signature of foreign rows (no
        id, organization, listing or text), compares them here, and returns similarity numbers
        alone; nothing that identifies a foreign row leaves this method.
        """
        hits = _hits()
        statement = (
            select(ContentFingerprint.text_sha256, ContentFingerprint.signature)
            .join(hits, hits.c.fingerprint_id == ContentFingerprint.id)
            .where(
                ContentFingerprint.organization_id != organization_id,
                ContentFingerprint.field == field,
            )
            .order_by(hits.c.hits.desc())
            .limit(MAX_CANDIDATES)
        )
        rows = (await self.session.execute(statement, _bucket_params(fingerprint))).all()
        matches = [
            ForeignMatch(
                similarity=1.0
                if row.text_sha256 == fingerprint.text_sha256
                else estimate_similarity(fingerprint.signature, row.signature),
                exact=row.text_sha256 == fingerprint.text_sha256,
            )
            for row in rows
        ]
        return sorted(matches, key=lambda m: -m.similarity)
