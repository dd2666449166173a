import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from flashfusion.kit.schemas import IDSchema, ReadSchema, Schema, TimestampedSchema
from flashfusion.safeguard.service import MAX_REASON, MIN_REASON
from flashfusion.safeguard.subject import MAX_TEXT

OptionalID = Annotated[uuid.UUID | None, Field(strict=False)]
PLATFORMS_DOC = "etsy, amazon, shopify, tiktok_shop, pinterest, instagram, facebook"
VERDICT_DOC = "`pass`, `warn` or `block`"


class Span(ReadSchema):
    field: str = Field(
        description="The screened field: `title`, `layer:<id>` (a design text layer), "
        "`<platform>:<language>:<field>` (listing copy, e.g. `etsy:en:tags`), or `phrase`."
    )
    start: int = Field(description="Start offset (characters) in the field's original text.")
    end: int = Field(description="End offset (exclusive).")
    text: str = Field(description="The matched text as written.")


class Finding(ReadSchema):
    category: str = Field(
        description="`trademark`, `policy`, `ip`, `claims`, `quality` or `plagiarism`."
    )
    code: str = Field(description="Stable name, `<category>.<kind>`, e.g. `trademark.exact`.")
    verdict: str = Field(description=f"What it means for publishing: {VERDICT_DOC}.")
    message: str = Field(description="What matched and what to do next.")
    span: Span | None = Field(description="Where it sits; null for the whole listing.")
    evidence: dict[str, Any] = Field(
        description="The facts behind it: for a mark its text, serial and registration "
        "numbers, status, classes, owner, office, match type and score; for a rule its id, pack "
        "and version."
    )
    source: str | None = Field(description="Where to check it (register entry, policy page).")
    score: float | None = Field(description="Match strength 0–1, where the check has one.")


class ScreenedField(ReadSchema):
    name: str = Field(description="Field name, as in a finding's `span.field`.")
    text: str = Field(description="The text screened.")


class ScreenedSubject(ReadSchema):
    fields: list[ScreenedField] = Field(description="Every text screened.")
    product_type: str | None = Field(description="Catalog product type key.")
    nice_classes: list[int] = Field(description="Nice classes of the product type.")
    platforms: list[str] = Field(description="Platforms whose rules applied.")
    language: str = Field(description="Language code.")


class ScreenRequest(Schema):
    organization_id: OptionalID = Field(
        default=None, description="Workspace (defaults to the API key's): its thresholds apply."
    )
    text: str = Field(
        min_length=1,
        max_length=MAX_TEXT,
        description=f"The text to screen: a phrase, an idea or draft copy (1–{MAX_TEXT:,} "
        "characters).",
    )
    product_type: str = Field(
        min_length=1,
        max_length=64,
        description="Catalog product type key it goes on, e.g. `tshirt`, `mug-11oz`: its Nice "
        "classes decide which marks matter.",
    )
    platforms: list[Annotated[str, Field(max_length=32)]] = Field(
        default_factory=list,
        max_length=10,
        description=f"Platforms whose rules apply: {PLATFORMS_DOC}; none: generic rules only.",
    )


class ScreenResult(ReadSchema):
    verdict: str = Field(description=f"The worst finding's verdict: {VERDICT_DOC}.")
    findings: list[Finding] = Field(description="Every finding, the worst first.")
    counts: dict[str, dict[str, int]] = Field(
        description="Per category and `total`: how many findings of each verdict."
    )
    quality_score: int | None = Field(description="Quality score 0–100 (null: not scored).")
    checks: dict[str, Any] = Field(
        description="What was checked: rule pack and starter set versions, marks considered, "
        "thresholds used, and checks that could not run (`errors`)."
    )


class SafeguardOverride(TimestampedSchema):
    report_id: uuid.UUID = Field(description="The report overridden.")
    user_id: uuid.UUID | None = Field(description="Who decided (null if the user is gone).")
    reason: str = Field(description="Why publishing is safe despite the report.")


class SafeguardHold(IDSchema):
    created_at: datetime = Field(description="When the product was put on hold.")
    report_id: uuid.UUID | None = Field(description="The report that found the new marks.")
    import_id: str | None = Field(description="The trademark import that brought them.")
    marks: list[dict[str, Any]] = Field(description="The marks: text, numbers, office, status.")


class SafeguardReport(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace.")
    product_id: uuid.UUID | None = Field(description="The product screened.")
    subject_hash: str = Field(
        description="SHA-256 of the screened text, product type and platforms: the product "
        "version this report is about."
    )
    subject: ScreenedSubject = Field(description="What was screened.")
    verdict: str = Field(description=f"The worst finding's verdict: {VERDICT_DOC}.")
    findings: list[Finding] = Field(description="Every finding, the worst first.")
    counts: dict[str, dict[str, int]] = Field(
        description="Per category and `total`: how many findings of each verdict."
    )
    quality_score: int | None = Field(description="Quality score 0–100 (the weakest listing).")
    checks: dict[str, Any] = Field(
        description="What was checked: rule pack and starter set versions, marks considered, "
        "thresholds used, and checks that could not run (`errors`)."
    )
    trigger: str = Field(
        description="Why it was screened: `manual`, `change`, `import`, `publish` or `api`."
    )
    created_by_user_id: uuid.UUID | None = Field(
        description="Who asked for it (null for automatic screens)."
    )
    override: SafeguardOverride | None = Field(
        description="The owner's or admin's override of this report, if any."
    )


class SafeguardReportLatest(SafeguardReport):
    current: bool = Field(
        description="The report still describes the product: same text, type, platforms, "
        "rule packs and starter set. If not, publishing screens it again first."
    )
    hold: SafeguardHold | None = Field(
        description="The product is paused from publishing because a new mark matched it."
    )
    publishable: bool = Field(
        description="Publishing would go ahead on this report (no BLOCK, or overridden; no hold)."
    )


class OverrideCreate(Schema):
    reason: str = Field(
        min_length=MIN_REASON,
        max_length=MAX_REASON,
        description=f"Why publishing is safe ({MIN_REASON}–{MAX_REASON} characters); kept "
        "with the report and in the audit log.",
    )


class SafeguardSettings(ReadSchema):
    organization_id: uuid.UUID = Field(description="Workspace.")
    trademark_thresholds: dict[str, Any] = Field(
        description="The workspace's own trademark matcher thresholds (others: the defaults)."
    )
    effective_trademark_thresholds: dict[str, Any] = Field(
        description="Every threshold the matcher uses for this workspace."
    )
    quality_warn_below: int = Field(description="A quality score below this is a WARN (0–100).")
    plagiarism_threshold: float = Field(
        description="Similarity (0.5–1) from which a near-duplicate listing is a WARN."
    )
    pause_on_new_mark: bool = Field(
        description="Hold a product from publishing when a newly imported mark matches it."
    )
    block_on_warn: bool = Field(
        description="Treat WARN like BLOCK when publishing (an override still lets it through)."
    )
    modified_at: datetime | None = Field(description="Last change (null: never changed).")


class SafeguardSettingsUpdate(Schema):
    trademark_thresholds: dict[str, bool | int | float | None] | None = Field(
        default=None,
        description="Thresholds to set (name → value; null returns one to its default).",
    )
    quality_warn_below: int | None = Field(
        default=None, ge=0, le=100, description="A quality score below this is a WARN."
    )
    plagiarism_threshold: float | None = Field(
        default=None,
        ge=0.5,
        le=1.0,
        description="Similarity from which a near-duplicate listing is a WARN.",
    )
    pause_on_new_mark: bool | None = Field(
        default=None, description="Hold a product when a newly imported mark matches it."
    )
    block_on_warn: bool | None = Field(
        default=None, description="Treat WARN like BLOCK when publishing."
    )
