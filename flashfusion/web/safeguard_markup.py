"""What a safeguard report looks like on a page: the screened text with its findings
highlighted, each finding's evidence as rows, the fields grouped by where they are edited, and
the deterministic (offline) rewrite suggestions. Pure functions, no database."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from markupsafe import Markup, escape

from flashfusion.safeguard.types import Verdict

# --- highlighting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """One highlighted span: `text[start:end]` of a field, the finding it belongs to."""

    start: int
    end: int
    verdict: str
    code: str
    ref: int


def _verdict(value: str) -> Verdict:
    try:
        return Verdict(value)
    except ValueError:
        # An unknown verdict in an old report: show it as a warning rather than hide it.
        return Verdict.warn


def highlight(text: str, marks: Iterable[Mark]) -> Markup:
    """`text`, HTML-escaped, with every mark wrapped in `<mark class="finding finding-…">`.

    Overlapping marks are cut at every boundary, so no `<mark>` nests in another: each piece
    carries the worst verdict of the marks covering it and all their codes. Offsets outside the
    text are clipped and empty marks dropped (a report may outlive an edit of the text)."""
    size = len(text)
    usable = [m for m in marks if 0 <= m.start < min(m.end, size)]
    if not usable:
        return escape(text)
    bounds = sorted({0, size, *(m.start for m in usable), *(min(m.end, size) for m in usable)})
    pieces: list[Markup] = []
    for start, end in pairwise(bounds):
        piece = text[start:end]
        covering = [m for m in usable if m.start <= start and end <= m.end]
        if not covering:
            pieces.append(escape(piece))
            continue
        verdict = max((_verdict(m.verdict) for m in covering), key=lambda v: v.rank)
        codes = " ".join(dict.fromkeys(m.code for m in covering))
        refs = " ".join(dict.fromkeys(str(m.ref) for m in covering))
        pieces.append(
            Markup(
                '<mark class="finding finding-{}" data-code="{}" data-finding="{}" title="{}">'
                "{}</mark>"
            ).format(verdict.value, codes, refs, codes, piece)
        )
    return Markup("").join(pieces)


def marks_by_field(findings: Sequence[Mapping[str, Any]]) -> dict[str, list[Mark]]:
    """The findings' spans per field name (the finding's index in the report is its ref)."""
    by_field: dict[str, list[Mark]] = {}
    for index, finding in enumerate(findings):
        span = finding.get("span")
        if not span:
            continue
        by_field.setdefault(str(span["field"]), []).append(
            Mark(
                start=int(span["start"]),
                end=int(span["end"]),
                verdict=str(finding.get("verdict", "warn")),
                code=str(finding.get("code", "")),
                ref=index,
            )
        )
    return by_field


# --- offline rewrite suggestions ------------------------------------------------------------

# FlashFusion's own neutral stand-ins for a flagged span, per category. Policy and claims spans
# get no stand-in: the honest fix for "cures" or a weapon word is to drop it, not to soften it.
NEUTRAL_WORDS: dict[str, str] = {"trademark": "original", "ip": "original"}


def _tidy(text: str) -> str:
    """Collapse the double spaces and dangling separators a removal leaves behind."""
    words = " ".join(text.split())
    for before, after in ((" ,", ","), (" .", "."), (" !", "!"), (" ?", "?"), (",,", ",")):
        words = words.replace(before, after)
    return words.strip(" ,;-–—|")


def offline_rewrites(text: str, start: int, end: int, category: str) -> list[str]:
    """Deterministic suggestions for the field `text` without `text[start:end]`: the span
    removed, and (for trademark and IP findings) replaced by a neutral word. Suggestions equal
    to the original or empty are left out."""
    start, end = max(0, start), min(len(text), end)
    suggestions = [_tidy(text[:start] + " " + text[end:])]
    neutral = NEUTRAL_WORDS.get(category)
    if neutral:
        suggestions.append(_tidy(f"{text[:start]} {neutral} {text[end:]}"))
    return [s for s in dict.fromkeys(suggestions) if s and s != text.strip()]


# --- evidence ---------------------------------------------------------------------------------


def safe_url(url: Any) -> str | None:
    """A link target from stored data only when it is an http(s) URL (never `javascript:`)."""
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return url
    return None


def _join(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _percent(value: Any) -> str:
    return f"{float(value) * 100:.0f} %" if isinstance(value, int | float) else str(value)


Row = tuple[str, str, str | None]


def _trademark_rows(evidence: Mapping[str, Any], finding: Mapping[str, Any]) -> list[Row]:
    # The number links to the register entry where the matcher knows it, else to the source.
    register = safe_url(evidence.get("register_url")) or safe_url(finding.get("source"))
    number_key = "serial_number" if evidence.get("serial_number") else "registration_number"
    rows: list[Row] = []
    for label, key in (
        ("Mark", "mark"),
        ("Serial number", "serial_number"),
        ("Registration number", "registration_number"),
        ("Status", "status"),
        ("Office", "office"),
        ("Owner", "owner"),
        ("Nice classes", "classes"),
        ("Match type", "match_type"),
    ):
        value = evidence.get(key)
        if value not in (None, "", []):
            shown = str(value).upper() if key == "office" else _join(value)
            rows.append((label, shown, register if key == number_key else None))
    if isinstance(evidence.get("relevant_class"), bool):
        relevant = "yes" if evidence["relevant_class"] else "no (informational)"
        rows.append(("In this product's classes", relevant, None))
    score = evidence.get("score", finding.get("score"))
    if isinstance(score, int | float):
        rows.append(("Score", f"{float(score):.2f}", None))
    others = [o for o in evidence.get("other_registrations") or [] if isinstance(o, dict)]
    if others:
        numbers = [
            f"{o.get('registration_number') or o.get('serial_number')} "
            f"(classes {_join(o.get('classes') or [])})"
            for o in others
        ]
        rows.append(("Other registrations", "; ".join(numbers), None))
    return rows


def _rule_rows(evidence: Mapping[str, Any], finding: Mapping[str, Any]) -> list[Row]:
    rows: list[Row] = []
    if evidence.get("pack"):
        version = evidence.get("pack_version")
        rows.append(
            ("Rule pack", str(evidence["pack"]) + (f" v{version}" if version else ""), None)
        )
    if evidence.get("rule"):
        title = evidence.get("title")
        rule = str(evidence["rule"]) + (f" — {title}" if title else "")
        rows.append(("Rule", rule, None))
    for label, key in (("Matched", "matched"), ("Reason", "reason"), ("Label", "label")):
        if evidence.get(key):
            rows.append((label, str(evidence[key]), None))
    platforms = evidence.get("platform_verdicts") or {}
    if isinstance(platforms, dict) and platforms:
        rows.append(("Per platform", ", ".join(f"{k}: {v}" for k, v in platforms.items()), None))
    also = evidence.get("also_matched") or []
    if isinstance(also, list) and also:
        shown = ", ".join(f"{a.get('rule')} ({a.get('pack')})" for a in also if isinstance(a, dict))
        rows.append(("Also matched", shown, None))
    return rows


def _evidence_rows(finding: Mapping[str, Any], base: str) -> list[Row]:
    evidence: Mapping[str, Any] = finding.get("evidence") or {}
    category = finding.get("category")
    if category == "trademark":
        return _trademark_rows(evidence, finding)
    if category == "plagiarism":
        # The similarity and whose listing it is, nothing else: never another workspace's text.
        rows: list[Row] = []
        if isinstance(evidence.get("similarity"), int | float):
            rows.append(("Similarity", _percent(evidence["similarity"]), None))
        if evidence.get("scope") == "other_workspace":
            rows.append(("Matched", "a listing in another workspace (not shown)", None))
        elif evidence.get("scope") == "workspace" and evidence.get("listing_copy_id"):
            link = f"{base}/listings/{evidence['listing_copy_id']}"
            rows.append(("Matched", "a listing in this workspace", link))
        return rows
    if category == "quality":
        rows = []
        if evidence.get("score") is not None:
            rows.append(("Score", f"{evidence['score']}/100", None))
        if evidence.get("warn_below") is not None:
            rows.append(("Warns below", str(evidence["warn_below"]), None))
        if evidence.get("listing"):
            rows.append(("Listing", str(evidence["listing"]), None))
        reasons = evidence.get("reasons") or []
        if reasons:
            rows.append(("Reasons", "; ".join(str(r) for r in reasons), None))
        return rows
    return _rule_rows(evidence, finding)


def evidence_rows(finding: Mapping[str, Any], base: str) -> list[Row]:
    """(label, value, link) rows of a finding's evidence, in the order a reader checks them,
    ending with its source; `base` is the workspace's URL prefix (links to its own listings)."""
    rows = _evidence_rows(finding, base)
    source = safe_url(finding.get("source"))
    if source and finding.get("category") != "plagiarism":
        rows.append(("Source", source.split("//", 1)[1].split("/", 1)[0], source))
    return rows


# --- screened fields --------------------------------------------------------------------------

CATEGORY_LABELS = {
    "trademark": "Trademarks",
    "policy": "Platform policy",
    "ip": "Intellectual property",
    "claims": "Claims",
    "quality": "Quality",
    "plagiarism": "Duplication",
}
FIELD_LABELS = {
    "title": "Title",
    "description": "Description",
    "tags": "Tags",
    "hashtags": "Hashtags",
    "seo_title": "SEO title",
    "meta_description": "Meta description",
    "alt_text": "Alt text",
    "caption": "Caption",
    "phrase": "Phrase",
}


@dataclass
class FieldGroup:
    """The screened fields of one thing the creator edits in one place (the product, the
    design, one listing), with that place."""

    key: str
    heading: str
    edit_url: str | None
    edit_label: str
    fields: list[tuple[str, str, Markup]]  # (field name, label, highlighted text)


def _plain_label(name: str) -> str:
    if name.startswith("bullet:"):
        return f"Bullet {name.split(':', 1)[1]}"
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


def field_groups(
    subject: Mapping[str, Any],
    findings: Sequence[Mapping[str, Any]],
    *,
    base: str,
    product: Any,
    copies: Mapping[tuple[str, str], Any],
    layer_names: Mapping[str, str],
) -> list[FieldGroup]:
    """The report's screened text, grouped by where it is edited, each field highlighted."""
    marks = marks_by_field(findings)
    groups: dict[str, FieldGroup] = {}
    for field in subject.get("fields") or []:
        name, text = str(field.get("name", "")), str(field.get("text", ""))
        if name.startswith("layer:"):
            layer = name.split(":", 1)[1]
            group = groups.setdefault(
                "design",
                FieldGroup(
                    "design",
                    "Design text layers",
                    f"{base}/studio/designs/{product.design_id}" if product else None,
                    "Edit the design",
                    [],
                ),
            )
            label = f"Layer “{layer_names.get(layer) or layer}”"
        elif name.count(":") >= 2 and not name.startswith("bullet:"):
            platform, language, rest = name.split(":", 2)
            copy = copies.get((platform, language))
            group = groups.setdefault(
                f"{platform}:{language}",
                FieldGroup(
                    f"{platform}:{language}",
                    f"Listing copy · {platform} · {language}",
                    f"{base}/listings/{copy.id}" if copy else None,
                    "Edit in the listing editor",
                    [],
                ),
            )
            label = _plain_label(rest)
        else:
            group = groups.setdefault(
                "product",
                FieldGroup(
                    "product",
                    "Product" if product else "Text",
                    f"{base}/products/{product.id}" if product else None,
                    "Edit the product",
                    [],
                ),
            )
            label = _plain_label(name)
        group.fields.append((name, label, highlight(text, marks.get(name, []))))
    return list(groups.values())


def field_label(name: str, layer_names: Mapping[str, str]) -> str:
    """Where a span sits, for a finding: "Etsy listing (en) · Tags", "Design layer “Title”"."""
    if name.startswith("layer:"):
        layer = name.split(":", 1)[1]
        return f"design layer “{layer_names.get(layer) or layer}”"
    if name.count(":") >= 2 and not name.startswith("bullet:"):
        platform, language, rest = name.split(":", 2)
        return f"{platform} listing ({language}) · {_plain_label(rest).lower()}"
    return _plain_label(name).lower()


def group_findings(
    findings: Sequence[Mapping[str, Any]],
) -> list[tuple[str, str, list[tuple[int, Mapping[str, Any]]]]]:
    """(category, heading, [(index, finding)]) in the order of the report's categories; a
    finding keeps its index in the report (highlights and rewrite buttons refer to it)."""
    by_category: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for index, finding in enumerate(findings):
        by_category.setdefault(str(finding.get("category")), []).append((index, finding))
    order = [*CATEGORY_LABELS, *sorted(set(by_category) - set(CATEGORY_LABELS))]
    return [
        (category, CATEGORY_LABELS.get(category, category.capitalize()), by_category[category])
        for category in order
        if category in by_category
    ]
