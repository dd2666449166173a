import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from flashfusion.kit.schemas import IDSchema, ReadSchema, Schema, TimestampedSchema
from flashfusion.studio.document import DesignDocument

Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
DesignName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
PresetKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class Design(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace.")
    name: str = Field(description="Design name.")
    phrase: str = Field(description="The phrase it was made from (may be empty).")
    preset: str | None = Field(description="Style preset it started from.")
    latest_version: int = Field(description="Number of the newest version.")


class DesignCreate(Schema):
    organization_id: Annotated[uuid.UUID | None, Field(strict=False)] = Field(
        default=None, description="Workspace (defaults to the API key's)."
    )
    name: DesignName | None = Field(default=None, description="Defaults to the phrase.")
    phrase: Phrase | None = Field(default=None, description="Text to design with a preset.")
    preset: PresetKey | None = Field(
        default=None, description="Style preset key (`GET /api/v1/presets`); needs `phrase`."
    )
    document: DesignDocument | None = Field(
        default=None, description="A full design document instead of phrase + preset."
    )


class DesignUpdate(Schema):
    name: DesignName | None = Field(default=None, description="New name.")


class DesignVersion(IDSchema):
    design_id: uuid.UUID = Field(description="The design.")
    number: int = Field(description="Version number, from 1.")
    document: DesignDocument = Field(description="The layers as saved.")
    note: str = Field(description="What changed, if the author said.")
    reverted_from: int | None = Field(description="Version this one restored, if a revert.")
    created_at: datetime = Field(description="When it was saved (UTC).")


class DesignVersionCreate(Schema):
    document: DesignDocument = Field(description="The full document to save as a new version.")
    note: Annotated[str, StringConstraints(max_length=200)] = Field(
        default="", description="What changed."
    )


class PreviewRequest(Schema):
    document: DesignDocument
    size: int = Field(default=600, ge=64, le=1200, description="Longest side of the preview, px.")


class PresetInfo(ReadSchema):
    key: str = Field(description="Preset key.")
    name: str = Field(description="Display name.")
    description: str = Field(description="What it looks like.")


class FontInfo(ReadSchema):
    key: str = Field(description="Font key for text layers.")
    name: str = Field(description="Family and style.")
    licence: str = Field(description="Licence it is bundled under.")


class MediaAsset(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace.")
    kind: str = Field(description="`upload`, `print_file` or `mockup`.")
    content_type: str = Field(description="MIME type of the stored file.")
    byte_size: int = Field(description="Size in bytes.")
    width: int = Field(description="Width, px.")
    height: int = Field(description="Height, px.")
    dpi: int | None = Field(description="Dots per inch written in the file, if any.")
    sha256: str = Field(description="SHA-256 of the stored bytes.")
    filename: str = Field(description="The uploaded file's name, sanitised.")


Selection = dict[
    Annotated[str, StringConstraints(min_length=1, max_length=64)],
    list[Annotated[str, StringConstraints(min_length=1, max_length=64)]],
]


class RenderCreate(Schema):
    version: int | None = Field(default=None, ge=1, description="Design version; default latest.")
    product_types: Selection = Field(
        min_length=1,
        max_length=60,
        description="Product type key → variant keys to render (empty list: all variants).",
    )
    mockups: bool = Field(default=True, description="Also make listing images.")


class RenderFile(ReadSchema):
    id: uuid.UUID
    kind: str = Field(description="`print_file` or `mockup`.")
    product_type: str = Field(description="Product type key.")
    area_key: str | None = Field(description="Print area (print files).")
    variant_keys: list[str] = Field(description="Variants this print file serves.")
    view: str | None = Field(description="Mockup view (`front`, `back`, …).")
    colour_hex: str | None = Field(description="Blank colour of the mockup.")
    label: str = Field(description="Human label.")
    width: int
    height: int
    dpi: int | None
    media_asset_id: uuid.UUID = Field(description="`GET /api/v1/media/{id}/content` has the bytes.")


class ValidationIssue(ReadSchema):
    code: str = Field(description="Stable issue code, e.g. `low_dpi`.")
    severity: Literal["error", "warning"]
    product_type: str | None = Field(default=None, description="Product type it concerns.")
    area_key: str | None = Field(description="Print area it concerns.")
    layer_id: str | None = Field(description="Layer it concerns.")
    message: str = Field(description="What is wrong and what to do.")
    fix: str | None = Field(description="Automatic fix available (`POST …/fixes`), if any.")


class Render(TimestampedSchema):
    organization_id: uuid.UUID
    design_id: uuid.UUID
    design_version_id: uuid.UUID
    selection: dict[str, Any] = Field(description="What was asked for.")
    mockups: bool
    status: str = Field(description="`queued`, `running`, `succeeded` or `failed`.")
    progress_done: int = Field(description="Steps finished.")
    progress_total: int = Field(description="Steps in all.")
    issues: list[ValidationIssue] = Field(description="Validation findings.")
    error: str | None = Field(description="Why it failed, and what to do.")
    catalog_version: str
    job_id: uuid.UUID | None
    completed_at: datetime | None


class RenderDetail(Render):
    files: list[RenderFile] = Field(description="Print files and mockups produced.")


class ValidateRequest(Schema):
    version: int | None = Field(default=None, ge=1, description="Design version; default latest.")
    product_types: Selection = Field(min_length=1, max_length=60)


class FixRequest(Schema):
    version: int | None = Field(default=None, ge=1, description="Design version; default latest.")
    product_type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    code: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="Issue code to fix."
    )
    area_key: str | None = None
    layer_id: str | None = None
