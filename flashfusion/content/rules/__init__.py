"""Per-platform listing rules: look-up, measuring, validation and the auto-fixer.

`validate` reports every broken rule; `autofix` repairs what can be repaired without inventing
copy. The guarantee the tests hold it to: for any draft whose title and description still contain
a letter after fixing, `validate(autofix(draft)[0])` is empty apart from `required`/`too_short`
(content that is missing cannot be fixed).
"""

import functools
import re
import unicodedata
from collections.abc import Callable, Iterator
from types import ModuleType

from flashfusion.content.draft import (
    UNSPACED_LANGUAGES,
    BrandVoiceProfile,
    Fix,
    ListingDraft,
    Platform,
    Violation,
)
from flashfusion.content.rules import (
    amazon,
    etsy,
    facebook,
    instagram,
    pinterest,
    shopify,
    tiktok_shop,
)
from flashfusion.content.rules.base import Limit, PlatformRules

__all__ = [
    "ALL_FIELDS",
    "RULES",
    "Limit",
    "PlatformRules",
    "autofix",
    "banned_word_pattern",
    "caption",
    "cut",
    "get_rules",
    "measure",
    "validate",
]

_MODULES: dict[Platform, ModuleType] = {
    Platform.etsy: etsy,
    Platform.amazon: amazon,
    Platform.shopify: shopify,
    Platform.tiktok_shop: tiktok_shop,
    Platform.pinterest: pinterest,
    Platform.instagram: instagram,
    Platform.facebook: facebook,
}
RULES: dict[Platform, PlatformRules] = {p: m.RULES for p, m in _MODULES.items()}

# Platforms that publish hashtags inside the caption, so one limit covers both.
_CAPTION_PLATFORMS = frozenset(
    p.value for p, m in _MODULES.items() if getattr(m, "HASHTAGS_IN_CAPTION", False)
)
# Characters a title may hold at most once: (characters, source).
_SINGLE_USE_TITLE: dict[str, tuple[str, str]] = {
    Platform.etsy.value: (etsy.TITLE_SINGLE_USE_CHARACTERS, etsy.TITLE_SINGLE_USE_SOURCE),
}

# Every field of a listing draft, in the draft's order.
ALL_FIELDS = (
    "title",
    "description",
    "tags",
    "bullets",
    "seo_title",
    "meta_description",
    "hashtags",
    "alt_text",
)
_LIST_FIELDS = frozenset({"tags", "bullets", "hashtags"})
# A cut text must not end on these (nor on opening brackets/quotes or dashes, by category).
_DANGLING = frozenset(",;:、，；：·・/\\&|+=~@#*")
_HASHTAG_SOURCE = "a hashtag is one token: '#' and spaces would end or split it"


def get_rules(platform: Platform | str) -> PlatformRules:
    """The rules for a platform; an unknown name raises ValueError naming the valid ones."""
    try:
        return RULES[Platform(platform)]
    except ValueError:
        valid = ", ".join(p.value for p in Platform)
        raise ValueError(f"Unknown platform {platform!r}; valid platforms: {valid}") from None


def measure(text: str, rules: PlatformRules) -> int:
    """Length of `text` the way the platform counts it: code points or UTF-8 bytes."""
    if rules.length_unit == "bytes":
        return len(text.encode("utf-8"))
    return len(text)


def caption(draft: ListingDraft, rules: PlatformRules) -> str:
    """The text published as the description: on caption platforms the hashtags are appended."""
    if rules.platform not in _CAPTION_PLATFORMS or not draft.hashtags:
        return draft.description
    block = " ".join("#" + tag for tag in draft.hashtags)
    return f"{draft.description}\n\n{block}" if draft.description else block


# --- character classes ---------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _char_class(pattern: str) -> Callable[[str], bool]:
    r"""A membership test for one regex character class such as `[^\p{L}\p{Nd}\-']`.

    Platforms publish their classes with Unicode properties (\p{L}), which Python's `re` lacks, so
    the class is evaluated with `unicodedata` categories. Supported: a leading `^`, `\p{X}` and
    `\p{Xy}` categories, escaped and literal characters (no ranges).
    """
    if len(pattern) < 2 or pattern[0] != "[" or pattern[-1] != "]":
        raise ValueError(f"not a character class: {pattern!r}")
    body = pattern[1:-1]
    negate = body.startswith("^")
    if negate:
        body = body[1:]
    categories: list[str] = []
    literals: set[str] = set()
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            if body[i + 1] == "p" and body[i + 2 : i + 3] == "{":
                end = body.index("}", i)
                categories.append(body[i + 3 : end])
                i = end + 1
                continue
            literals.add(body[i + 1])
            i += 2
            continue
        literals.add(char)
        i += 1
    category_tuple = tuple(categories)

    def member(ch: str) -> bool:
        return ch in literals or unicodedata.category(ch).startswith(category_tuple)

    if negate:
        return lambda ch: not member(ch)
    return member


def _forbidden_chars(text: str, pattern: str | None) -> list[str]:
    if not pattern:
        return []
    test = _char_class(pattern)
    return list(dict.fromkeys(ch for ch in text if test(ch)))


def _remove_forbidden(text: str, pattern: str | None) -> str:
    if not pattern:
        return text
    test = _char_class(pattern)
    # A forbidden line break or tab still separates words, so it becomes a space.
    return "".join((" " if ch.isspace() else "") if test(ch) else ch for ch in text)


def _remove_repeats(text: str, characters: str) -> str:
    """Keep the first occurrence of each of `characters`, drop the later ones."""
    seen: set[str] = set()
    out = []
    for ch in text:
        if ch in characters:
            if ch in seen:
                continue
            seen.add(ch)
        out.append(ch)
    return "".join(out)


# --- whitespace ------------------------------------------------------------------------------


def _without_controls(text: str, keep: str = "") -> str:
    return "".join(
        ch for ch in text if ch in keep or ch.isspace() or unicodedata.category(ch) != "Cc"
    )


def _clean_line(text: str) -> str:
    """NFC, control characters dropped, every whitespace run one space, trimmed."""
    text = _without_controls(unicodedata.normalize("NFC", text))
    text = " ".join(text.split())
    # Not before ; : ! ? -- French typography puts a space there (espace insécable).
    return re.sub(r" +([,.、。，！？])", r"\1", text)


def _clean_block(text: str) -> str:
    """Like `_clean_line` but paragraphs survive: at most one blank line between them."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _without_controls(text, keep="\n")
    lines = [_clean_line(line) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- cutting ---------------------------------------------------------------------------------


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _continues_cluster(text: str, i: int) -> bool:
    """Whether text[i] belongs to the character before it (cutting before it would split)."""
    ch, prev = text[i], text[i - 1]
    code = ord(ch)
    if unicodedata.category(ch).startswith("M") or ch == "\u200d" or prev == "\u200d":
        return True
    if 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:  # skin tones, flag tags
        return True
    if 0xDC00 <= code <= 0xDFFF:  # a low surrogate half
        return True
    if 0x1160 <= code <= 0x11FF or 0xD7B0 <= code <= 0xD7FF:  # conjoining Hangul jamo
        return True
    if _is_regional_indicator(ch):
        run = 0
        j = i - 1
        while j >= 0 and _is_regional_indicator(text[j]):
            run += 1
            j -= 1
        return run % 2 == 1
    return False


def _strip_dangling(text: str) -> str:
    while True:
        text = text.rstrip()
        if text and (
            text[-1] in _DANGLING or unicodedata.category(text[-1]) in ("Ps", "Pi", "Pd", "Pc")
        ):
            text = text[:-1]
            continue
        return text


def _fit_prefix(text: str, limit: int, rules: PlatformRules) -> int:
    if rules.length_unit != "bytes":
        return min(limit, len(text))
    used = 0
    for i, ch in enumerate(text):
        used += len(ch.encode("utf-8"))
        if used > limit:
            return i
    return len(text)


def cut(text: str, limit: int, rules: PlatformRules, *, language: str = "en") -> str:
    """`text` shortened to fit `limit`: at a word boundary (for ja/zh at a character boundary),
    never inside a combining sequence or emoji, and without dangling punctuation at the end."""
    if measure(text, rules) <= limit:
        return text
    n = _fit_prefix(text, limit, rules)
    while 0 < n < len(text) and _continues_cluster(text, n):
        n -= 1
    prefix = text[:n]
    if language not in UNSPACED_LANGUAGES and n < len(text) and not text[n].isspace():
        # Mid-word: go back to the last space. A single word longer than the limit is cut anyway.
        spaces = [m.start() for m in re.finditer(r"\s", prefix)]
        if spaces and spaces[-1] > 0:
            prefix = prefix[: spaces[-1]]
    return _strip_dangling(prefix)


# --- banned words ----------------------------------------------------------------------------


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF
        or 0x31F0 <= code <= 0x31FF
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF66 <= code <= 0xFF9F
        or 0x20000 <= code <= 0x3FFFF
    )


def _is_hangul(ch: str) -> bool:
    code = ord(ch)
    return 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F


def banned_word_pattern(word: str, language: str, *, runs: bool = False) -> re.Pattern[str] | None:
    """Whole-word, case-insensitive. Japanese/Chinese characters have no word boundaries, and a
    Korean word may carry a particle (고양이를), so those ends match without one.

    With `runs`, an end without a boundary also takes back-to-back repeats (양양양) in one match:
    removing them one by one would expose the next as a new word each time.
    """
    parts = unicodedata.normalize("NFC", word).split()
    if not parts:
        return None
    body = r"\s+".join(re.escape(p) for p in parts)
    first, last = parts[0][0], parts[-1][-1]
    left = "" if _is_cjk(first) else r"(?<!\w)"
    right = "" if _is_cjk(last) or (language == "ko" and _is_hangul(last)) else r"(?!\w)"
    if runs and not (left and right):
        body = f"(?:{body})+"
    return re.compile(left + body + right, re.IGNORECASE)


_BannedPatterns = list[tuple[str, re.Pattern[str], re.Pattern[str]]]


def _banned_patterns(voice: BrandVoiceProfile | None, language: str) -> _BannedPatterns:
    """(word, pattern that finds it, pattern that removes it) for each banned word."""
    if voice is None:
        return []
    patterns = []
    for word in dict.fromkeys(voice.banned_words):
        find = banned_word_pattern(word, language)
        remove = banned_word_pattern(word, language, runs=True)
        if find is not None and remove is not None:
            patterns.append((word, find, remove))
    return patterns


def _remove_banned(text: str, patterns: _BannedPatterns, clean: Callable[[str], str]) -> str:
    # Removing one word can bring two halves of another together, so repeat until stable. Each
    # round removes at least one non-space character and adds only spaces, so this ends.
    while any(find.search(text) for _, find, _ in patterns):
        for _, _, remove in patterns:
            text = remove.sub(" ", text)
        text = clean(text)
    return text


# --- validation ------------------------------------------------------------------------------


def _text_fields(draft: ListingDraft) -> Iterator[tuple[str, str]]:
    yield "title", draft.title
    yield "description", draft.description
    for name in ("tags", "bullets", "hashtags"):
        for i, value in enumerate(getattr(draft, name)):
            yield f"{name}[{i}]", value
    for name in ("seo_title", "meta_description", "alt_text"):
        value = getattr(draft, name)
        if value is not None:
            yield name, value


def _is_set(draft: ListingDraft, name: str) -> bool:
    value = getattr(draft, name)
    if name in _LIST_FIELDS:
        return bool(value)
    return bool(value and value.strip())


def _unit(rules: PlatformRules) -> str:
    return "bytes" if rules.length_unit == "bytes" else "characters"


def _check_length(
    out: list[Violation],
    field: str,
    text: str,
    rules: PlatformRules,
    maximum: Limit | None,
    minimum: Limit | None = None,
    what: str | None = None,
) -> None:
    size = measure(text, rules)
    what = what or field
    if maximum is not None and size > maximum.value:
        out.append(
            Violation(
                field=field,
                code="too_long",
                message=f"{what} is {size} {_unit(rules)}; {rules.label} allows {maximum.value}",
                limit=maximum.value,
                source=maximum.source,
            )
        )
    if minimum is not None and text.strip() and size < minimum.value:
        out.append(
            Violation(
                field=field,
                code="too_short",
                message=f"{what} is {size} {_unit(rules)}; {rules.label} needs {minimum.value}",
                limit=minimum.value,
                source=minimum.source,
            )
        )


def _check_forbidden(
    out: list[Violation], field: str, text: str, pattern: str | None, source: str | None
) -> None:
    bad = _forbidden_chars(text, pattern)
    if bad:
        shown = " ".join(repr(ch) for ch in bad[:10])
        out.append(
            Violation(
                field=field,
                code="forbidden_characters",
                message=f"{field} contains characters the platform rejects: {shown}",
                source=source,
            )
        )


def _check_count(
    out: list[Violation], name: str, items: list[str], limit: Limit | None, rules: PlatformRules
) -> None:
    if limit is not None and len(items) > limit.value:
        out.append(
            Violation(
                field=name,
                code="too_many",
                message=f"{len(items)} {name}; {rules.label} allows {limit.value}",
                limit=limit.value,
                source=limit.source,
            )
        )


def _dedupe_key(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).casefold().split())


def _check_items(
    out: list[Violation],
    name: str,
    items: list[str],
    rules: PlatformRules,
    *,
    max_length: Limit | None = None,
    pattern: str | None = None,
    pattern_source: str | None = None,
    dedupe: bool = False,
) -> None:
    first_seen: dict[str, int] = {}
    for i, item in enumerate(items):
        field = f"{name}[{i}]"
        if not item.strip():
            out.append(Violation(field=field, code="required", message=f"{field} is empty"))
            continue
        _check_length(out, field, item, rules, max_length)
        _check_forbidden(out, field, item, pattern, pattern_source)
        if dedupe:
            key = _dedupe_key(item)
            if key in first_seen:
                out.append(
                    Violation(
                        field=field,
                        code="duplicate",
                        message=f"{field} repeats {name}[{first_seen[key]}] ({item!r})",
                    )
                )
            else:
                first_seen[key] = i


def validate(
    draft: ListingDraft,
    rules: PlatformRules,
    *,
    language: str = "en",
    brand_voice: BrandVoiceProfile | None = None,
) -> list[Violation]:
    """Every rule the draft breaks on this platform (empty list: ready to publish)."""
    out: list[Violation] = []
    used = rules.fields
    for name in ALL_FIELDS:
        if name not in used and _is_set(draft, name):
            out.append(
                Violation(
                    field=name,
                    code="unused_field",
                    message=f"{rules.label} does not use {name}; it would not be published",
                )
            )
    for name in ("title", "description"):
        if name in used and not getattr(draft, name).strip():
            out.append(Violation(field=name, code="required", message=f"{name} is empty"))

    if "title" in used:
        _check_length(out, "title", draft.title, rules, rules.title_max, rules.title_min)
        _check_forbidden(
            out, "title", draft.title, rules.title_forbidden_pattern, rules.title_forbidden_source
        )
        single_use = _SINGLE_USE_TITLE.get(rules.platform)
        if single_use:
            characters, source = single_use
            repeated = [ch for ch in characters if draft.title.count(ch) > 1]
            if repeated:
                out.append(
                    Violation(
                        field="title",
                        code="forbidden_characters",
                        message="title may use each of "
                        + " ".join(repeated)
                        + " only once on "
                        + rules.label,
                        source=source,
                    )
                )
    if "description" in used:
        if rules.platform in _CAPTION_PLATFORMS:
            text, what = caption(draft, rules), "caption (description and hashtags)"
        else:
            text, what = draft.description, "description"
        _check_length(
            out, "description", text, rules, rules.description_max, rules.description_min, what
        )
    if "tags" in used:
        _check_count(out, "tags", draft.tags, rules.tags_max, rules)
        _check_items(
            out,
            "tags",
            draft.tags,
            rules,
            max_length=rules.tag_max_length,
            pattern=rules.tag_forbidden_pattern,
            pattern_source=rules.tag_forbidden_source,
            dedupe=True,
        )
    if "bullets" in used:
        _check_count(out, "bullets", draft.bullets, rules.bullets_max, rules)
        _check_items(out, "bullets", draft.bullets, rules, max_length=rules.bullet_max_length)
    if "hashtags" in used:
        _check_count(out, "hashtags", draft.hashtags, rules.hashtags_max, rules)
        for i, tag in enumerate(draft.hashtags):
            bad = list(dict.fromkeys(ch for ch in tag if ch == "#" or ch.isspace()))
            if bad and tag.strip():
                out.append(
                    Violation(
                        field=f"hashtags[{i}]",
                        code="forbidden_characters",
                        message=f"hashtags[{i}] must be one word without '#': {tag!r}",
                        source=_HASHTAG_SOURCE,
                    )
                )
        _check_items(out, "hashtags", draft.hashtags, rules, dedupe=True)
    for name, limit in (
        ("seo_title", rules.seo_title_max),
        ("meta_description", rules.meta_description_max),
        ("alt_text", rules.alt_text_max),
    ):
        value = getattr(draft, name)
        if name in used and value is not None:
            _check_length(out, name, value, rules, limit)

    patterns = _banned_patterns(brand_voice, language)
    if patterns:
        assert brand_voice is not None
        for field, text in _text_fields(draft):
            for word, find, _ in patterns:
                if find.search(text):
                    out.append(
                        Violation(
                            field=field,
                            code="banned_word",
                            message=f"{field} contains {word!r}, banned by brand voice "
                            f"{brand_voice.name!r}",
                        )
                    )
    return out


# --- auto-fix --------------------------------------------------------------------------------


class _Fixer:
    def __init__(
        self, rules: PlatformRules, language: str, voice: BrandVoiceProfile | None
    ) -> None:
        self.rules = rules
        self.language = language
        self.banned = _banned_patterns(voice, language)
        self.fixes: list[Fix] = []

    def record(
        self, field: str, code: str, before: str, after: str, *, always: bool = False
    ) -> str:
        if always or before != after:
            self.fixes.append(Fix(field=field, code=code, before=before, after=after))
        return after

    def text(
        self,
        field: str,
        value: str,
        *,
        limit: Limit | None = None,
        pattern: str | None = None,
        single_use: str = "",
        block: bool = False,
        clean: Callable[[str], str] | None = None,
    ) -> str:
        """One text field through every repair, each change recorded as a Fix."""
        clean = clean or (_clean_block if block else _clean_line)
        value = self.record(field, "whitespace", value, clean(value))
        if pattern:
            removed = clean(_remove_forbidden(value, pattern))
            value = self.record(field, "forbidden_characters", value, removed)
        if single_use:
            value = self.record(
                field, "forbidden_characters", value, clean(_remove_repeats(value, single_use))
            )
        value = self.record(field, "banned_word", value, _remove_banned(value, self.banned, clean))
        if limit is not None:
            value = self.record(
                field,
                "too_long",
                value,
                cut(value, limit.value, self.rules, language=self.language),
            )
            # A cut inside a long run can leave the start of a banned word whole.
            value = self.record(
                field, "banned_word", value, _remove_banned(value, self.banned, clean)
            )
        return value

    def items(
        self,
        name: str,
        values: list[str],
        *,
        count: Limit | None,
        limit: Limit | None = None,
        pattern: str | None = None,
        dedupe: bool = False,
        clean: Callable[[str], str] | None = None,
    ) -> list[str]:
        kept: list[str] = []
        seen: set[str] = set()
        for i, raw in enumerate(values):
            field = f"{name}[{i}]"
            value = self.text(field, raw, limit=limit, pattern=pattern, clean=clean)
            if not value:
                self.record(field, "empty", raw, "", always=True)
                continue
            if dedupe:
                key = _dedupe_key(value)
                if key in seen:
                    self.record(field, "duplicate", value, "")
                    continue
                seen.add(key)
            kept.append(value)
        if count is not None and len(kept) > count.value:
            self.record(name, "too_many", ", ".join(kept), ", ".join(kept[: count.value]))
            kept = kept[: count.value]
        return kept


def _hashtag_word(value: str) -> str:
    return "".join(value.replace("#", " ").split())


def _clean_hashtag(value: str) -> str:
    return _hashtag_word(_clean_line(value))


def autofix(
    draft: ListingDraft,
    rules: PlatformRules,
    *,
    language: str = "en",
    brand_voice: BrandVoiceProfile | None = None,
) -> tuple[ListingDraft, list[Fix]]:
    """The draft repaired for this platform, and the list of changes made.

    Trims whitespace, removes banned words and forbidden characters, dedupes and drops empty
    tags, cuts text to the limits at a word boundary, strips '#' from hashtags, clears fields the
    platform does not use and fills seo_title / meta_description from title / description.
    """
    fixer = _Fixer(rules, language, brand_voice)
    used = rules.fields
    update: dict[str, object] = {}

    for name in ALL_FIELDS:
        if name in used or not _is_set(draft, name):
            continue
        value = getattr(draft, name)
        before = ", ".join(value) if name in _LIST_FIELDS else value
        fixer.record(name, "unused_field", before, "")
        update[name] = (
            [] if name in _LIST_FIELDS else ("" if name in ("title", "description") else None)
        )

    if "title" in used:
        single = _SINGLE_USE_TITLE.get(rules.platform, ("", ""))[0]
        update["title"] = fixer.text(
            "title",
            draft.title,
            limit=rules.title_max,
            pattern=rules.title_forbidden_pattern,
            single_use=single,
        )
    if "tags" in used:
        update["tags"] = fixer.items(
            "tags",
            draft.tags,
            count=rules.tags_max,
            limit=rules.tag_max_length,
            pattern=rules.tag_forbidden_pattern,
            dedupe=True,
        )
    if "bullets" in used:
        update["bullets"] = fixer.items(
            "bullets", draft.bullets, count=rules.bullets_max, limit=rules.bullet_max_length
        )

    description_limit = rules.description_max
    if "hashtags" in used:
        words = []
        for i, raw in enumerate(draft.hashtags):
            words.append(fixer.record(f"hashtags[{i}]", "hashtag_format", raw, _hashtag_word(raw)))
        hashtags = fixer.items(
            "hashtags", words, count=rules.hashtags_max, dedupe=True, clean=_clean_hashtag
        )
        if rules.platform in _CAPTION_PLATFORMS and description_limit is not None:
            # Hashtags may take at most half the caption, so the copy itself always survives.
            total = description_limit.value
            while hashtags and measure(_hashtag_block(hashtags), rules) > total // 2:
                dropped = hashtags.pop()
                fixer.record(f"hashtags[{len(hashtags)}]", "too_long", dropped, "")
            room = total - measure(_hashtag_block(hashtags), rules)
            description_limit = Limit(room, description_limit.source)
        update["hashtags"] = hashtags

    if "description" in used:
        update["description"] = fixer.text(
            "description", draft.description, limit=description_limit, block=True
        )
    if "alt_text" in used and draft.alt_text is not None:
        update["alt_text"] = fixer.text("alt_text", draft.alt_text, limit=rules.alt_text_max)

    title = str(update.get("title", draft.title))
    description = str(update.get("description", draft.description))
    for name, source, limit in (
        ("seo_title", title, rules.seo_title_max),
        ("meta_description", _clean_line(description), rules.meta_description_max),
    ):
        if name not in used:
            continue
        original = getattr(draft, name)
        value = fixer.text(name, original or "", limit=limit)
        if not value and source:
            # Fill only when the repaired copy keeps something (":::" cuts down to nothing).
            scratch = _Fixer(rules, language, brand_voice)
            candidate = scratch.text(name, source, limit=limit)
            if candidate:
                fixer.record(name, "filled", value, source)
                fixer.fixes.extend(scratch.fixes)
                value = candidate
        if value or original is not None:
            update[name] = value

    return draft.model_copy(update=update), fixer.fixes


def _hashtag_block(hashtags: list[str]) -> str:
    # What caption() appends: a blank line, then the tags.
    return "\n\n" + " ".join("#" + tag for tag in hashtags) if hashtags else ""
