"""Workspace media: sanitised uploads and generated files, stored in one MediaStorage."""

import asyncio
import hashlib
import io
import uuid
from collections.abc import Iterable, Sequence
from functools import lru_cache

from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.config import MediaBackend, Settings, get_settings
from flashfusion.exceptions import AppError, ResourceNotFound, UnprocessableEntity
from flashfusion.kit.media_storage import MediaStorage, build_media_storage
from flashfusion.models import APIKey, MediaAsset, MediaKind, User
from flashfusion.studio import upload
from flashfusion.studio.render import MediaLoader
from flashfusion.studio.repository import MediaAssetRepository
from flashfusion.studio.upload import UploadLimits, UploadRejected, sanitise_image


class InvalidUpload(UnprocessableEntity):
    """The file is not an image we can print from."""


class UploadTooLarge(AppError):
    """The upload is larger than the limit."""

    status_code = 413


EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


@lru_cache(maxsize=4)
def _storage(
    backend: MediaBackend,
    home: str,
    endpoint: str,
    bucket: str,
    region: str,
    key_id: str,
    secret: str,
) -> MediaStorage:
    from pathlib import Path

    return build_media_storage(
        backend=backend.value,
        home=Path(home),
        endpoint_url=endpoint,
        bucket=bucket,
        region=region,
        access_key_id=key_id,
        secret_access_key=secret,
    )


def get_storage(settings: Settings | None = None) -> MediaStorage:
    """The media storage the settings describe (one instance per configuration)."""
    s = settings or get_settings()
    secret = s.S3_SECRET_ACCESS_KEY.get_secret_value() if s.S3_SECRET_ACCESS_KEY else ""
    return _storage(
        s.MEDIA_BACKEND,
        str(s.home),
        s.S3_ENDPOINT_URL,
        s.S3_BUCKET,
        s.S3_REGION,
        s.S3_ACCESS_KEY_ID,
        secret,
    )


def upload_limits(settings: Settings | None = None) -> UploadLimits:
    s = settings or get_settings()
    return UploadLimits(max_bytes=s.UPLOAD_MAX_BYTES, max_pixels=s.UPLOAD_MAX_PIXELS)


def _creator_id(auth_subject: AuthSubject[Subject] | None) -> uuid.UUID | None:
    if auth_subject is None:
        return None
    subject = auth_subject.subject
    if isinstance(subject, User):
        return subject.id
    if isinstance(subject, APIKey):
        return subject.created_by_user_id
    return None


class MediaService:
    async def upload(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID,
        data: bytes,
        filename: str | None,
    ) -> MediaAsset:
        """Sniff, limit, strip and normalise an uploaded image, then store it."""
        await authz.accessible_organization(
            session,
            auth_subject,
            organization_id,
            Permission.designs_manage,
            action="media.uploaded",
        )
        limits = upload_limits()
        if len(data) > limits.max_bytes:
            raise UploadTooLarge(
                f"file: {len(data):,} bytes is over the {limits.max_bytes:,}-byte limit; "
                "export a smaller file (PNG at the print size is enough)."
            )
        try:
            image = await asyncio.to_thread(sanitise_image, data, filename=filename, limits=limits)
        except upload.UploadTooLarge as e:
            raise UploadTooLarge(f"{e.field}: {e.message}") from e
        except UploadRejected as e:
            # Not an image we can use (wrong type, truncated, a bomb): one 422 for all of them.
            raise InvalidUpload(f"{e.field}: {e.message}") from e
        asset = await self.store(
            session,
            organization_id=organization_id,
            kind=MediaKind.upload,
            data=image.data,
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            dpi=None,
            filename=image.original_filename_safe or "",
            sha256=image.sha256,
            created_by=auth_subject,
        )
        await audit_service.record(
            session,
            auth_subject,
            action="media.uploaded",
            organization_id=organization_id,
            target_type="media",
            target_id=asset.id,
            details={
                "filename": asset.filename,
                "bytes": asset.byte_size,
                "width": asset.width,
                "height": asset.height,
            },
        )
        return asset

    async def store(
        self,
        session: AsyncSession,
        *,
        organization_id: uuid.UUID,
        kind: MediaKind,
        data: bytes,
        content_type: str,
        width: int,
        height: int,
        dpi: int | None,
        filename: str = "",
        sha256: str | None = None,
        created_by: AuthSubject[Subject] | None = None,
    ) -> MediaAsset:
        """Write the bytes, then the row (a rolled-back row leaves an unreferenced file)."""
        asset_id = uuid.uuid4()
        extension = EXTENSIONS.get(content_type, "bin")
        key = f"org/{organization_id}/{kind.value}/{asset_id}.{extension}"
        await get_storage().put(key, data, content_type)
        asset = MediaAsset(
            id=asset_id,
            organization_id=organization_id,
            kind=kind,
            storage_key=key,
            content_type=content_type,
            byte_size=len(data),
            width=width,
            height=height,
            dpi=dpi,
            sha256=sha256 or hashlib.sha256(data).hexdigest(),
            filename=filename[:120],
            created_by_user_id=_creator_id(created_by),
        )
        await MediaAssetRepository.from_session(session).create(asset)
        return asset

    async def get(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], id: uuid.UUID
    ) -> MediaAsset:
        """The asset (404 if missing or another workspace's), if the subject may see designs."""
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        asset = await MediaAssetRepository.from_session(session).get_for_organizations(id, ids)
        if asset is None:
            raise ResourceNotFound("Media")
        await authz.require(
            session,
            auth_subject,
            asset.organization_id,
            Permission.designs_read,
            action="media.read",
            target_type="media",
            target_id=asset.id,
        )
        return asset

    async def content(self, asset: MediaAsset) -> bytes:
        return await get_storage().get(asset.storage_key)

    async def storage_keys(self, session: AsyncSession, ids: Iterable[uuid.UUID]) -> list[str]:
        """Where the bytes of these assets are (for a job that replaces its own files)."""
        repository = MediaAssetRepository.from_session(session)
        return [a.storage_key for a in await repository.get_by_ids(list(ids))]

    async def delete_files(self, keys: Iterable[str]) -> None:
        """Remove stored bytes whose rows are already gone; a missing file is fine."""
        storage = get_storage()
        for key in keys:
            await storage.delete(key)

    async def _named(
        self, session: AsyncSession, organization_id: uuid.UUID, media_ids: Iterable[str]
    ) -> Sequence[MediaAsset]:
        """This workspace's assets among `media_ids` (ids that aren't UUIDs match nothing)."""
        wanted: list[uuid.UUID] = []
        for raw in set(media_ids):
            try:
                wanted.append(uuid.UUID(raw))
            except ValueError:
                continue
        return await MediaAssetRepository.from_session(session).get_many(wanted, {organization_id})

    async def loader(
        self, session: AsyncSession, organization_id: uuid.UUID, media_ids: Iterable[str]
    ) -> MediaLoader:
        """A renderer media loader holding this workspace's images named in a document.

        Ids that are not UUIDs, or belong to another workspace, are simply absent: the
        renderer reports them as missing, which is what the creator needs to hear.
        """
        assets = await self._named(session, organization_id, media_ids)
        images: dict[str, Image.Image] = {}
        for asset in assets:
            data = await self.content(asset)
            image = Image.open(io.BytesIO(data))
            image.load()
            images[str(asset.id)] = image.convert("RGBA")

        def load(media_id: str) -> Image.Image:
            return images[media_id]

        return load

    async def recent_uploads(
        self, session: AsyncSession, organization_id: uuid.UUID, limit: int = 24
    ) -> list[MediaAsset]:
        """The workspace's latest uploads (for the editor's image picker)."""
        return list(
            await MediaAssetRepository.from_session(session).recent(
                {organization_id}, kind=MediaKind.upload, limit=limit
            )
        )

    async def existing_ids(
        self, session: AsyncSession, organization_id: uuid.UUID, media_ids: Iterable[str]
    ) -> set[str]:
        assets = await self._named(session, organization_id, media_ids)
        return {str(a.id) for a in assets if a.kind == MediaKind.upload}


media = MediaService()
