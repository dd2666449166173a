"""What a screen reads, and reading what it found.

A product's subject is its title, its design's text layers and its listing copy
(`SafeguardService._gather` collects them with these helpers); a bare text is one `phrase`
field. Fields of a listing copy are named `<platform>:<language>:<field>` so that the findings of
several listings of one product stay apart.
"""

from dataclasses import dataclass
from typing import Any

from flashfusion.catalog.registry import Catalog, UnknownProductType, resolve_key
from flashfusion.content.draft import Platform
from flashfusion.models import SafeguardReport
from flashfusion.safeguard.pipeline import (
    InvalidScreen,
    ListingContext,
    ScreenSettings,
    check_subject,
    finding_from_json,
    mark_key,
)
from flashfusion.safeguard.trademark.classes import nice_classes_for
from flashfusion.safeguard.types import Category, Finding, ScreenSubject, TextField, Verdict

MAX_TEXT = 20_000
# Listing fields screened, in the order they are shown.
LISTING_TEXT_FIELDS = ("title", "description", "seo_title", "meta_description", "alt_text")
LISTING_LIST_FIELDS = ("tags", "hashtags")


@dataclass
class ProductSubject:
    subject: ScreenSubject
    listings: tuple[ListingContext, ...] = ()


# --- building subjects ---------------------------------------------------------------------------


def check_product_type(catalog: Catalog, product_type: str, *, field: str = "product_type") -> str:
    """The catalog key `product_type` names; the error lists the valid ids."""
    if not product_type or not product_type.strip():
        raise InvalidScreen(
            f"{field}: say which product the text goes on; valid ids: "
            + ", ".join(sorted(catalog.product_types))
        )
    try:
        return resolve_key(catalog, product_type)
    except UnknownProductType as e:
        raise InvalidScreen(
            f"{field}: {e}; valid ids: {', '.join(sorted(catalog.product_types))}"
        ) from None


def check_platforms(platforms: list[str], *, field: str = "platforms") -> tuple[str, ...]:
    valid = [p.value for p in Platform]
    checked: list[str] = []
    for name in platforms:
        key = name.strip().lower()
        if key not in valid:
            raise InvalidScreen(
                f"{field}: {name!r} is not a platform; use one of {', '.join(valid)}."
            )
        checked.append(key)
    return tuple(dict.fromkeys(checked))


def text_subject(
    catalog: Catalog, *, text: str, product_type: str, platforms: list[str]
) -> ScreenSubject:
    """A bare text (a phrase, an idea, a draft) as one `phrase` field on a product type."""
    key = check_product_type(catalog, product_type)
    chosen = check_platforms(platforms)
    if len(text) > MAX_TEXT:
        raise InvalidScreen(
            f"text: is {len(text):,} characters; screen at most {MAX_TEXT:,} at a time."
        )
    subject = ScreenSubject(
        fields=(TextField("phrase", text),),
        product_type=key,
        nice_classes=nice_classes_for(key, catalog=catalog),
        platforms=chosen,
    )
    check_subject(subject, field_name="text")
    return subject


def listing_fields(prefix: str, fields: dict[str, Any]) -> list[TextField]:
    """A listing version's text as screen fields: `<prefix>title`, `<prefix>tags` (joined by
    ", "), `<prefix>bullet:1`, …; empty fields are left out."""
    out: list[TextField] = []
    for name in LISTING_TEXT_FIELDS[:2]:
        if fields.get(name):
            out.append(TextField(prefix + name, str(fields[name])))
    for name in LISTING_LIST_FIELDS:
        values = [str(v) for v in fields.get(name) or [] if str(v).strip()]
        if values:
            out.append(TextField(prefix + name, ", ".join(values)))
    for number, bullet in enumerate(fields.get("bullets") or [], start=1):
        if str(bullet).strip():
            out.append(TextField(f"{prefix}bullet:{number}", str(bullet)))
    for name in LISTING_TEXT_FIELDS[2:]:
        if fields.get(name):
            out.append(TextField(prefix + name, str(fields[name])))
    return out


def design_fields(document: dict[str, Any]) -> list[TextField]:
    """Every visible text layer of a design document, as `layer:<id>` (an erased layer still
    shows its letters, cut out of what is below)."""
    return [
        TextField(f"layer:{layer['id']}", str(layer["text"]))
        for layer in document.get("layers", [])
        if layer.get("type") == "text" and layer.get("visible", True) and layer.get("text")
    ]


def flagged_marks(findings: list[Finding]) -> dict[str, dict[str, Any]]:
    """The marks behind WARN and BLOCK trademark findings, by identity."""
    marks: dict[str, dict[str, Any]] = {}
    for finding in findings:
        if finding.category is not Category.trademark or finding.verdict == Verdict.passed:
            continue
        key = mark_key(finding.evidence)
        if key is not None:
            marks.setdefault(
                key,
                {
                    "mark": finding.evidence.get("mark"),
                    "serial_number": finding.evidence.get("serial_number"),
                    "registration_number": finding.evidence.get("registration_number"),
                    "office": finding.evidence.get("office"),
                    "status": finding.evidence.get("status"),
                },
            )
    return marks


def report_findings(report: SafeguardReport) -> list[Finding]:
    return [finding_from_json(f) for f in report.findings]


def blocking_findings(report: SafeguardReport, settings: ScreenSettings) -> list[Finding]:
    stops = {Verdict.block, Verdict.warn} if settings.block_on_warn else {Verdict.block}
    return [f for f in report_findings(report) if f.verdict in stops]


def describe_findings(findings: list[Finding], limit: int = 3) -> str:
    parts = []
    for finding in findings[:limit]:
        where = f" '{finding.span.text}' in {finding.span.field}" if finding.span else ""
        parts.append(f"{finding.code}{where}")
    more = len(findings) - limit
    return "; ".join(parts) + (f" and {more} more" if more > 0 else "")
