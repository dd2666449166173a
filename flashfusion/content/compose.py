"""The offline composer: real listing copy and short-video scripts built without any model.

Copy is assembled from per-language lexicons (`lexicon/<lang>.json`): templates with several
alternatives per slot, product-type nouns and synonyms, audience/occasion/style words. Facts come
only from the catalog entry of the product type (its name, category, variant sizes and colours,
print areas) and from what the creator put in the brief; nothing else is claimed (no materials,
no shipping times). Choices are made deterministically from `brief.seed`, so the same brief gives
the same copy and A/B variants (other seeds) differ.

`compose_listing(brief, rules)` fills only the fields `rules.fields` names and keeps every field
inside the platform's limits; `compose_script(brief)` writes a timed short-video script.
"""

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flashfusion.catalog.registry import UnknownProductType, get_product_type
from flashfusion.catalog.schemas import ProductType
from flashfusion.content.draft import LANGUAGES, ListingBrief, ListingDraft
from flashfusion.content.rules import autofix, caption, cut, measure, validate
from flashfusion.content.rules.base import Limit, PlatformRules

LEXICON_DIR = Path(__file__).parent / "lexicon"

TONES = ("playful", "warm", "bold", "minimal", "elegant", "professional")
# Platforms whose "description" is a post caption rather than a product page. Facebook is not
# one: its listing is a Shop catalog item, whose description is a product page.
CAPTION_STYLE_PLATFORMS = frozenset({"instagram", "pinterest"})
SCRIPT_PLATFORMS = frozenset({"tiktok", "instagram", "youtube", "facebook", "pinterest"})
# Other names for the same apps' short-video surfaces (the content service says "youtube_shorts").
SCRIPT_PLATFORM_ALIASES = {
    "instagram_reels": "instagram",
    "reels": "instagram",
    "youtube_shorts": "youtube",
    "shorts": "youtube",
    "tiktok_shop": "tiktok",
    "facebook_reels": "facebook",
}

# Style choices, not platform limits: used only where the platform states no number.
DEFAULT_TAG_COUNT = 13
DEFAULT_HASHTAG_COUNT = 8
DEFAULT_BULLET_COUNT = 5
DEFAULT_TITLE_CHARS = 140
HASHTAG_MAX_CHARS = 30  # longer run-together hashtags are unreadable
SCRIPT_HASHTAG_COUNT = 5
SCRIPT_MIN_SECONDS = 3
SCRIPT_MAX_SECONDS = 180

# Etsy's tag rule, the strictest of the platforms: letters, digits, spaces, - ' ™ © ®.
# Source: Etsy Open API v3 spec (shared/specs/etsy/baseline.json), createDraftListing `tags`:
# regex [^\p{L}\p{Nd}\p{Zs}\-'™©®] is forbidden.
_TAG_EXTRA_CHARS = frozenset("-'™©®")


# --- Lexicon schema -------------------------------------------------------------------------


class _Lex(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Template(_Lex):
    text: str
    # Canonical tones (TONES) this variant suits; empty means neutral.
    tones: list[str] = Field(default_factory=list)
    # Script CTAs that only make sense on some video platforms ("link in bio").
    platforms: list[str] = Field(default_factory=list)


class ProductWords(_Lex):
    name: str = Field(description="Title form of the catalog name.")
    short: str = Field(description="The plain product noun.")
    synonyms: list[str] = Field(description="Search phrases buyers use for it (tags, titles).")
    on: str | None = Field(default=None, description="'on a t-shirt' (spaced languages).")
    method: str | None = Field(default=None, description="Overrides the category's method.")


class CategoryWords(_Lex):
    label: str
    method: str = Field(description="How it is made, only as far as the catalog says.")
    tags: list[str] = Field(default_factory=list)
    # Where or how it is used; true of every product type in the category, no product facts.
    usage: list[str] = Field(min_length=1)


class GiftWords(_Lex):
    word: str = Field(description="Form used in 'Great for: …' lists.")
    gift: str = Field(description="Stand-alone gift phrase for titles and tags.")
    aliases: list[str] = Field(default_factory=list)


class Punctuation(_Lex):
    list_sep: str
    label_sep: str
    quote_open: str
    quote_close: str
    item_prefix: str
    title_seps: list[str]
    compact_sep: str
    clause_sep: str
    sentence_end: str
    sentence_sep: str  # between sentences: " ", or "" in Japanese and Chinese
    lower_tags: bool
    title_case: bool


class Lexicon(_Lex):
    language: str
    notes: list[str] = Field(default_factory=list, description="Where the words come from.")
    punctuation: Punctuation
    on_pattern: str = Field(description="'{name}に' where no stored `on` phrase exists.")
    labels: dict[str, str]
    colours: dict[str, str]
    sizes: dict[str, str]
    print_areas: dict[str, str]
    categories: dict[str, CategoryWords]
    product_types: dict[str, ProductWords]
    audiences: dict[str, GiftWords]
    occasions: dict[str, GiftWords]
    unknown_audience_gift: str
    tones: dict[str, list[str]]
    styles: dict[str, list[str]]
    templates: dict[str, list[Template]]


# The labels every lexicon defines (a label may add a per-category form, "sizes.apparel").
LABEL_KEYS = frozenset(
    {
        "details", "product", "category", "size", "sizes", "colour", "colours", "print",
        "embroidery", "method", "material", "device", "great_for", "size_choices",
        "model_choice",
    }
)  # fmt: skip
# Every template may use these placeholders: the idea as typed, the idea in the language's
# quotes, the product's title form, plain noun and "on a …" phrase, how it is made, its category.
PLACEHOLDERS = frozenset({"idea", "q", "name", "short", "on", "method", "category"})
# The template slots every lexicon fills; `vibe` also takes {words} (the brand's vocabulary).
SLOTS = (
    "opening", "design", "vibe", "care", "cta", "caption_cta", "bullet_design", "bullet_product",
    "bullet_gift", "bullet_made", "alt_text", "meta", "script_hook", "script_hook_shot",
    "script_reveal_shot", "script_reveal_vo", "script_detail_shot", "script_detail_vo",
    "script_gift_shot", "script_gift_vo", "script_cta_shot", "script_cta", "script_cta_text",
)  # fmt: skip
# Slots whose variants must cover every tone (brand voice), besides neutral ones.
TONED_SLOTS = ("opening", "design", "cta", "script_hook")


@cache
def load_lexicon(language: str) -> Lexicon:
    """The lexicon of one of LANGUAGES, validated once per process."""
    if language not in LANGUAGES:
        raise ValueError(f"no lexicon for language {language!r}; use one of {sorted(LANGUAGES)}")
    return Lexicon.model_validate_json((LEXICON_DIR / f"{language}.json").read_text("utf-8"))


def _norm(word: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", word).casefold().replace("'", "’").split())


@cache
def _alias_index(kind: str) -> dict[str, str]:
    """Word in any language → canonical key, so 'maman' finds `mom` for a German listing."""
    index: dict[str, str] = {}
    for language in LANGUAGES:
        lexicon = load_lexicon(language)
        if kind == "tones":
            for tone, words in lexicon.tones.items():
                for word in [tone, *words]:
                    index.setdefault(_norm(word), tone)
            continue
        entries = lexicon.audiences if kind == "audiences" else lexicon.occasions
        for key, entry in entries.items():
            for word in [key.replace("_", " "), entry.word, entry.gift, *entry.aliases]:
                index.setdefault(_norm(word), key)
    return index


def canonical_tones(tones: Iterable[str]) -> list[str]:
    """Brand-voice tones (any language, synonyms) mapped onto TONES, in order, de-duplicated."""
    index = _alias_index("tones")
    found: list[str] = []
    for tone in tones:
        key = index.get(_norm(tone))
        if key and key not in found:
            found.append(key)
    return found


# --- Small text helpers ---------------------------------------------------------------------


def _rank(seed: int, slot: str, n: int) -> int:
    digest = hashlib.sha256(f"{seed}|{slot}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % n


def _limit(limit: Limit | None) -> int | None:
    return limit.value if limit is not None else None


def _cap_first(text: str) -> str:
    return text[:1].upper() + text[1:]


# Left lowercase inside an English title (units too: "11 oz Mug").
_SMALL_WORDS = frozenset({"a", "an", "and", "at", "for", "in", "of", "on", "or", "oz", "the", "to"})


def _title_case(text: str) -> str:
    words = text.split(" ")
    out = []
    for i, word in enumerate(words):
        if word.islower() and (i == 0 or word not in _SMALL_WORDS):
            word = _cap_first(word)
        out.append(word)
    return " ".join(out)


def _is_cjk(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _tag_clean(text: str) -> str:
    chars = [
        c
        if unicodedata.category(c)[0] == "L"
        or unicodedata.category(c) in ("Nd", "Zs")
        or c in _TAG_EXTRA_CHARS
        else " "
        for c in text
    ]
    return " ".join("".join(chars).split()).strip("-' ")


def _hashtag(text: str) -> str:
    return "".join(c for c in text if c.isalnum() or c == "_").lower()


class _Banned:
    """A brand's banned words, matched like the rules' validator matches them, or more widely:
    case-insensitive whole words, runs of spaces between the words of a phrase, and no word
    boundary at a Japanese, Chinese or Korean end (a Korean noun may carry a particle)."""

    def __init__(self, words: Iterable[str]) -> None:
        words = list(dict.fromkeys(words))
        patterns = []
        for word in words:
            parts = unicodedata.normalize("NFC", word).split()
            if not parts:
                continue
            body = r"\s+".join(re.escape(p) for p in parts)
            left = "" if _is_cjk(parts[0][0]) else r"(?<!\w)"
            right = "" if _is_cjk(parts[-1][-1]) else r"(?!\w)"
            patterns.append(left + body + right)
        self.pattern = re.compile("|".join(patterns), re.IGNORECASE) if patterns else None
        # A hashtag runs words together, so there a banned word counts wherever it appears.
        self.compact = [c for c in (_hashtag(w) for w in words) if c]

    def hits(self, text: str) -> bool:
        return bool(self.pattern and self.pattern.search(unicodedata.normalize("NFC", text)))

    def in_hashtag(self, tag: str) -> bool:
        return any(word in tag for word in self.compact)

    def scrub(self, text: str) -> str:
        if not self.pattern:
            return text
        for _ in range(10):  # removing one word can join the halves of another
            if not self.hits(text):
                break
            text = self.pattern.sub(" ", unicodedata.normalize("NFC", text))
            lines = [" ".join(line.split()) for line in text.split("\n")]
            text = re.sub(r" +([,.;:!?、。，])", r"\1", "\n".join(lines)).strip()
        return text


# --- What the copy is built from ------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """Catalog facts about the product type, overridden by the brief's own attributes."""

    name: str
    short: str
    synonyms: list[str]
    on: str
    category: str
    category_label: str
    method: str
    sizes: list[str]
    size_count: int
    device: str | None
    colours: list[str]
    print_areas: list[str]
    embroidered: bool
    material: str | None
    category_tags: list[str]
    usage: list[str]


def _str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return []


_UNVERIFIED_SIZE = re.compile(r"unverified|print file", re.IGNORECASE)
_DEVICE_SIZE = re.compile(r"^(?P<device>.+?) \(model chosen per order\)$")


def _facts(brief: ListingBrief, lexicon: Lexicon) -> _Facts:
    try:
        product: ProductType | None = get_product_type(brief.product_type)
    except UnknownProductType:
        product = None
    key = product.key if product else brief.product_type
    category_key = product.category if product else brief.category
    category = lexicon.categories.get(category_key)
    words = lexicon.product_types.get(key)
    if words is not None:
        name, short, synonyms = words.name, words.short, list(words.synonyms)
        on = words.on or lexicon.on_pattern.format(name=words.name)
    else:
        name = short = brief.product_type_name
        synonyms = []
        on = lexicon.on_pattern.format(name=brief.product_type_name)
    method = (words.method if words and words.method else None) or (
        category.method if category else ""
    )

    raw_sizes: list[str] = []
    raw_colours: list[str] = []
    areas: list[str] = []
    embroidered = False
    if product is not None:
        for variant in product.variants:
            if variant.size and variant.size not in raw_sizes:
                raw_sizes.append(variant.size)
            if variant.colour and variant.colour not in raw_colours:
                raw_colours.append(variant.colour)
        areas = [a.key for a in product.print_areas if a.required]
        embroidered = all(a.key.startswith("embroidery") for a in product.print_areas)
    attributes = brief.attributes
    raw_sizes = _str_list(attributes.get("sizes")) or raw_sizes
    raw_colours = _str_list(attributes.get("colours") or attributes.get("colors")) or raw_colours
    areas = _str_list(attributes.get("print_areas")) or areas
    if attributes.get("print_method"):
        method = str(attributes["print_method"]).strip()
    material = str(attributes["material"]).strip() if attributes.get("material") else None

    device = None
    sizes: list[str] = []
    size_count = 0
    if raw_sizes:
        device_match = _DEVICE_SIZE.match(raw_sizes[0])
        if device_match:
            device = device_match["device"]
        elif any(_UNVERIFIED_SIZE.search(s) for s in raw_sizes):
            # Print-file dimensions are not the product's size: say only how many there are
            # (one unnamed size says nothing, so then no size line at all).
            size_count = len(raw_sizes) if len(raw_sizes) > 1 else 0
        else:
            sizes = [lexicon.sizes.get(s, s) for s in raw_sizes]

    return _Facts(
        name=name,
        short=short,
        synonyms=synonyms,
        on=on,
        category=category_key,
        category_label=category.label if category else category_key,
        method=method,
        sizes=sizes,
        size_count=size_count,
        device=device,
        colours=[lexicon.colours.get(c, c) for c in raw_colours],
        print_areas=[
            lexicon.print_areas[a] if a in lexicon.print_areas else a
            for a in areas
            if a != "default"
        ],
        embroidered=embroidered,
        material=material,
        category_tags=list(category.tags) if category else [],
        usage=list(category.usage) if category else [],
    )


@dataclass(frozen=True)
class _Gift:
    word: str  # for "Great for: …" lists
    gift: str  # a stand-alone gift phrase, for titles and tags


class _Composer:
    """One composition: the brief, its lexicon and the choices made from the seed."""

    def __init__(self, brief: ListingBrief) -> None:
        self.brief = brief
        self.lex = load_lexicon(brief.language)
        self.punct = self.lex.punctuation
        self.banned = _Banned(brief.brand_voice.banned_words)
        self.idea = " ".join(brief.idea.split())
        self.q = f"{self.punct.quote_open}{self.idea}{self.punct.quote_close}"
        self.tones = canonical_tones(brief.brand_voice.tone)
        self.facts = _facts(brief, self.lex)
        self.keywords = self._clean_list(brief.keywords)
        self.vocabulary = self._clean_list(brief.brand_voice.vocabulary)
        audience = brief.audience or brief.brand_voice.audience or None
        self.audience = self._gift(audience, "audiences")
        self.occasion = self._gift(brief.occasion, "occasions")
        self.values: dict[str, str] = {
            "idea": self.idea,
            "q": self.q,
            "name": self.facts.name,
            "short": self.facts.short,
            "on": self.facts.on,
            "method": self.facts.method,
            "category": self.facts.category_label,
        }

    # -- choosing ---------------------------------------------------------------------------

    def _clean_list(self, words: Sequence[str]) -> list[str]:
        out: list[str] = []
        for word in words:
            word = " ".join(word.split())
            if word and not self.banned.hits(word) and _norm(word) not in map(_norm, out):
                out.append(word)
        return out

    def _gift(self, value: str | None, kind: str) -> _Gift | None:
        if not value or not value.strip() or self.banned.hits(value):
            return None
        value = " ".join(value.split())
        key = _alias_index(kind).get(_norm(value))
        entries = self.lex.audiences if kind == "audiences" else self.lex.occasions
        if key and key in entries:
            return _Gift(entries[key].word, entries[key].gift)
        if kind == "audiences":
            return _Gift(value, self.lex.unknown_audience_gift.format(audience=value))
        return _Gift(value, value)

    def pick(self, slot: str, **extra: str) -> str:
        """One variant of `slot`, chosen from the seed among those matching the brand's tone."""
        return self.pick_from(slot, self.pool(slot), **extra)

    def pool(self, slot: str, platform: str | None = None) -> list[Template]:
        candidates = self.lex.templates[slot]
        if platform is not None:
            for_platform = [t for t in candidates if platform in t.platforms]
            candidates = for_platform or [t for t in candidates if not t.platforms]
        toned = [t for t in candidates if set(t.tones) & set(self.tones)]
        return toned or [t for t in candidates if not t.tones] or list(candidates)

    def pick_from(self, slot: str, pool: list[Template], **extra: str) -> str:
        values = {**self.values, **extra}
        rendered = [t.text.format_map(values) for t in pool]
        allowed = [text for text in rendered if not self.banned.hits(text)] or rendered
        return allowed[_rank(self.brief.seed, slot, len(allowed))]

    def label(self, key: str, value: str) -> str:
        # A label may have a per-category form: clothing "Tallas" but mug "Tamaños".
        labels = self.lex.labels
        text = labels.get(f"{key}.{self.facts.category}") or labels[key]
        return f"{text}{self.punct.label_sep}{value}"

    def join(self, items: Iterable[str]) -> str:
        return self.punct.list_sep.join(items)

    # -- shared pieces ----------------------------------------------------------------------

    def gifts(self) -> list[_Gift]:
        return [g for g in (self.audience, self.occasion) if g is not None]

    def great_for_line(self) -> str:
        words = [g.word for g in self.gifts()]
        return self.label("great_for", self.join(words)) if words else ""

    def design_paragraph(self) -> str:
        sep = self.punct.sentence_sep
        design = self.pick("design")
        usage = [u for u in self.facts.usage if not self.banned.hits(u)]
        if usage:
            design = f"{design}{sep}{usage[_rank(self.brief.seed, 'usage', len(usage))]}"
        if self.vocabulary:
            # The brand's own words, where they fit: as the mood of the design.
            vibe = self.pick("vibe", words=self.join(self.vocabulary[:4]))
            design = f"{design}{sep}{vibe}"
        return design

    def size_line(self) -> str | None:
        facts = self.facts
        if facts.device:
            return self.label("device", self.lex.labels["model_choice"].format(device=facts.device))
        if facts.size_count:
            choices = self.lex.labels["size_choices"].format(n=facts.size_count)
            return self.label("sizes", choices)
        if facts.sizes:
            return self.label("sizes" if len(facts.sizes) > 1 else "size", self.join(facts.sizes))
        return None

    def colour_line(self) -> str | None:
        colours = self.facts.colours
        if not colours:
            return None
        return self.label("colours" if len(colours) > 1 else "colour", self.join(colours))

    def print_line(self) -> str | None:
        facts = self.facts
        if not facts.print_areas:
            return None
        return self.label(
            "embroidery" if facts.embroidered else "print", self.join(facts.print_areas)
        )

    def detail_lines(self) -> list[str]:
        facts = self.facts
        lines = [
            self.label("product", facts.name),
            self.label("category", facts.category_label),
            self.size_line(),
            self.colour_line(),
            self.print_line(),
            self.label("material", facts.material) if facts.material else None,
            self.label("method", facts.method) if facts.method else None,
        ]
        return [line for line in lines if line]

    def tag_candidates(self) -> list[str]:
        facts = self.facts
        style_words = [w for tone in self.tones for w in self.lex.styles.get(tone, [])]
        gifts = self.gifts()
        # The idea's own parts ("Coffee First" of "Coffee First, Then Adulting") make good tags.
        parts = [p.strip() for p in re.split(r"[,.;:!?—–/|]", self.idea) if p.strip()]
        candidates = [
            self.idea,
            *(parts[:1] if len(parts) > 1 else []),
            facts.short,
            *self.keywords,
            f"{self.idea} {facts.short}",
            *facts.synonyms,
            *(g.gift for g in gifts),
            *(g.word for g in gifts),
            *facts.category_tags,
            *style_words,
            *self.vocabulary,
            *self.lex.styles.get("neutral", []),
        ]
        return candidates

    def hashtags(self, count: int) -> list[str]:
        facts = self.facts
        candidates = [
            self.idea,
            facts.short,
            *self.keywords,
            *facts.synonyms[:2],
            *(g.gift for g in self.gifts()),
            *self.vocabulary,
            *facts.category_tags,
            *self.lex.styles.get("neutral", []),
        ]
        out: list[str] = []
        for candidate in candidates:
            tag = _hashtag(candidate)
            if not tag or len(tag) > HASHTAG_MAX_CHARS or tag in out or self.banned.in_hashtag(tag):
                continue
            out.append(tag)
            if len(out) >= count:
                break
        return out


# --- Listing --------------------------------------------------------------------------------


class _Listing:
    """The listing-specific half: measuring and cutting the way the platform counts."""

    def __init__(self, composer: _Composer, rules: PlatformRules) -> None:
        self.c = composer
        self.rules = rules
        self.language = composer.lex.language

    def size(self, text: str) -> int:
        return measure(text, self.rules)

    def cut(self, text: str, limit: int | None) -> str:
        return text if limit is None else cut(text, limit, self.rules, language=self.language)

    def fit_blocks(self, blocks: list[tuple[int, str]], limit: int | None) -> str:
        """Join (priority, text) paragraphs; over `limit`, drop the lowest priorities, then cut."""
        kept = [b for b in blocks if b[1]]
        text = "\n\n".join(t for _, t in kept)
        while limit is not None and self.size(text) > limit and len(kept) > 1:
            lowest = min(range(len(kept)), key=lambda i: (kept[i][0], -i))
            del kept[lowest]
            text = "\n\n".join(t for _, t in kept)
        if limit is not None and self.size(text) > limit:
            # One paragraph left and still too long: whole lines first, then words.
            lines = text.split("\n")
            while len(lines) > 1 and self.size("\n".join(lines)) > limit:
                lines.pop()
            text = self.cut("\n".join(lines), limit)
        return text

    def title(self, limit: int, *, minimum: int = 0, max_extras: int = 2) -> str:
        """Phrase + product noun first, then up to two keyword/audience/occasion phrases."""
        c = self.c
        casing = _title_case if c.punct.title_case else _cap_first
        nouns: list[str] = []
        for noun in [c.facts.name, c.facts.short, *c.facts.synonyms]:
            noun = casing(noun)
            if _norm(noun) not in map(_norm, nouns) and not c.banned.hits(noun):
                nouns.append(noun)
        nouns = nouns or [c.facts.name]
        seed = c.brief.seed
        noun = nouns[seed % len(nouns)]
        sep = c.punct.title_seps[(seed // len(nouns)) % len(c.punct.title_seps)]

        title = f"{c.idea} {noun}"
        if self.size(title) > limit:
            title = f"{c.idea} {min(nouns, key=len)}"
        if self.size(title) > limit:
            return self.cut(c.idea, limit)

        primary = [*c.keywords[:1], *(g.gift for g in c.gifts()), *c.keywords[1:]]
        # Used when there are too few keyword phrases, or the title is under the platform's minimum.
        fillers = [n for n in nouns if n != noun]
        fillers += [*c.lex.styles.get("neutral", []), *c.facts.category_tags]
        extras = primary[:max_extras]
        extras += fillers[: max(0, max_extras - len(extras))]
        added = 0
        for extra in [*extras, *fillers]:
            if added >= max_extras and self.size(title) >= minimum:
                break
            extra = casing(extra)
            if _norm(extra) in _norm(title) or c.banned.hits(extra):
                continue
            candidate = f"{title}{sep}{extra}"
            # Amazon rejects titles repeating a word more than twice; it reads badly anywhere.
            if self.size(candidate) > limit or max(_word_counts(candidate).values()) > 2:
                continue
            title = candidate
            added += 1
        return self._platform_safe(title)

    def _platform_safe(self, title: str) -> str:
        """Characters the platform rejects can only come from the idea as typed (an '!' on
        Amazon, a second '&' on Etsy): the rules' own fixer takes them out."""
        if "title" not in self.rules.fields:
            return title
        probe = ListingDraft(title=title, description="-")
        if any(v.field == "title" for v in validate(probe, self.rules, language=self.language)):
            return autofix(probe, self.rules, language=self.language)[0].title
        return title

    def description(self) -> str:
        c = self.c
        details = c.detail_lines()
        prefix = c.punct.item_prefix
        blocks = [
            (9, c.pick("opening")),
            (6, c.design_paragraph()),
            (4, c.great_for_line()),
            (7, "\n".join([c.lex.labels["details"], *(prefix + line for line in details)])),
            (3, c.pick("care")),
            (5, c.pick("cta")),
        ]
        return self.fit_blocks(blocks, _limit(self.rules.description_max))

    def post_caption(self, hashtags: list[str]) -> str:
        """A post caption: the idea, the design, what it comes in, a call to action. Where the
        platform appends the hashtags to the caption, they share its limit."""
        c = self.c
        limit = _limit(self.rules.description_max)
        if limit is not None:
            probe = ListingDraft(title="", description="-", hashtags=hashtags)
            limit -= self.size(caption(probe, self.rules)) - self.size("-")
        compact = [line for line in (c.size_line(), c.colour_line()) if line]
        blocks = [
            (9, c.pick("opening")),
            (6, c.design_paragraph()),
            (4, c.great_for_line()),
            (5, c.punct.compact_sep.join(compact)),
            (7, c.pick("caption_cta")),
        ]
        return self.fit_blocks(blocks, limit)

    def meta(self) -> str:
        c = self.c
        limit = _limit(self.rules.meta_description_max)
        meta = c.pick("meta")
        sep = c.punct.sentence_sep
        sizes = c.size_line()
        if sizes:
            meta = f"{meta}{sep}{sizes}{c.punct.sentence_end}"
        with_cta = f"{meta}{sep}{c.pick('cta')}"
        if limit is None or self.size(with_cta) <= limit:
            return with_cta
        return self.cut(meta, limit)

    def tags(self) -> list[str]:
        c = self.c
        count = _limit(self.rules.tags_max) or DEFAULT_TAG_COUNT
        max_len = _limit(self.rules.tag_max_length)
        tags: list[str] = []
        seen: set[str] = set()
        for candidate in c.tag_candidates():
            tag = _tag_clean(candidate)
            if c.punct.lower_tags:
                tag = tag.lower()
            # A phrase cut mid-way reads badly: a tag that does not fit is skipped, not cut.
            if not tag or c.banned.hits(tag) or (max_len is not None and self.size(tag) > max_len):
                continue
            if _norm(tag) not in seen:
                seen.add(_norm(tag))
                tags.append(tag)
            if len(tags) >= count:
                break
        return tags

    def hashtags(self) -> list[str]:
        count = min(DEFAULT_HASHTAG_COUNT, _limit(self.rules.hashtags_max) or DEFAULT_HASHTAG_COUNT)
        hashtags = self.c.hashtags(count)
        limit = _limit(self.rules.description_max)
        probe = ListingDraft(title="", description="", hashtags=hashtags)
        # The rules' fixer lets hashtags take at most half a shared caption; so do we.
        while limit is not None and hashtags and self.size(caption(probe, self.rules)) > limit // 2:
            hashtags = hashtags[:-1]
            probe = ListingDraft(title="", description="", hashtags=hashtags)
        return hashtags

    def bullets(self) -> list[str]:
        c = self.c
        count = _limit(self.rules.bullets_max) or DEFAULT_BULLET_COUNT
        options = [line for line in (c.size_line(), c.colour_line(), c.print_line()) if line]
        bullets = [
            c.pick("bullet_design"),
            c.pick("bullet_product"),
            c.punct.clause_sep.join(options),
            c.great_for_line() or c.pick("bullet_gift"),
            c.pick("bullet_made"),
        ]
        limit = _limit(self.rules.bullet_max_length)
        return [self.cut(b, limit) for b in bullets if b][:count]


def compose_listing(brief: ListingBrief, rules: PlatformRules) -> ListingDraft:
    """Listing copy for `rules.platform` in `brief.language`, within every limit of `rules`.

    Only the fields `rules.fields` names are filled (a platform without titles gets ""); the
    same brief and seed always give the same draft.
    """
    listing = _Listing(_Composer(brief), rules)
    fields = rules.fields
    title_limit = _limit(rules.title_max) or DEFAULT_TITLE_CHARS
    draft = ListingDraft(title="", description="")
    if "title" in fields:
        draft.title = listing.title(title_limit, minimum=_limit(rules.title_min) or 0)
    if "hashtags" in fields:
        draft.hashtags = listing.hashtags()
    if rules.platform in CAPTION_STYLE_PLATFORMS:
        draft.description = listing.post_caption(draft.hashtags)
    else:
        draft.description = listing.description()
    if "tags" in fields:
        draft.tags = listing.tags()
    if "bullets" in fields:
        draft.bullets = listing.bullets()
    if "seo_title" in fields:
        draft.seo_title = listing.title(_limit(rules.seo_title_max) or title_limit, max_extras=1)
    if "meta_description" in fields:
        draft.meta_description = listing.meta()
    if "alt_text" in fields:
        draft.alt_text = listing.cut(listing.c.pick("alt_text"), _limit(rules.alt_text_max))
    return _scrubbed(draft, listing.c.banned)


def _scrubbed(draft: ListingDraft, banned: _Banned) -> ListingDraft:
    """Last line of defence: a banned word that came in through the idea itself is removed."""
    if banned.pattern is None:
        return draft

    def scrub(text: str | None) -> str | None:
        return banned.scrub(text) if text else text

    return ListingDraft(
        title=banned.scrub(draft.title),
        description=banned.scrub(draft.description),
        tags=[t for t in map(banned.scrub, draft.tags) if t],
        bullets=[b for b in map(banned.scrub, draft.bullets) if b],
        seo_title=scrub(draft.seo_title),
        meta_description=scrub(draft.meta_description),
        hashtags=[h for h in draft.hashtags if not banned.in_hashtag(h)],
        alt_text=scrub(draft.alt_text),
    )


def _word_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in re.findall(r"\w+", text.casefold()):
        counts[word] = counts.get(word, 0) + 1
    return counts


# --- Video script ---------------------------------------------------------------------------


class Scene(BaseModel):
    seconds: int = Field(ge=1, description="How long the scene runs.")
    shot: str = Field(description="What the camera shows.")
    voice_over: str = Field(description="What is said over the scene.")
    on_screen_text: str = Field(description="Text overlaid on the scene.")


class VideoScript(BaseModel):
    """A short product video (TikTok, Reels, Shorts): scene timings add up to the length."""

    hook: str = Field(description="The first line, said and shown in the first seconds.")
    scenes: list[Scene] = Field(description="The scenes in order.")
    call_to_action: str = Field(description="What the viewer should do next.")
    hashtags: list[str] = Field(default_factory=list, description="Hashtags without '#'.")


def _split_seconds(total: int, weights: Sequence[int]) -> list[int]:
    """`total` split by `weights` (largest remainder), every part at least one second."""
    spare = total - len(weights)
    raw = [spare * w / sum(weights) for w in weights]
    parts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (parts[i] - raw[i], i))
    for i in order[: spare - sum(parts)]:
        parts[i] += 1
    return [p + 1 for p in parts]


def compose_script(
    brief: ListingBrief, *, platform: str = "tiktok", seconds: int = 30
) -> VideoScript:
    """A short-video script for the product in `brief.language`, `seconds` long in total."""
    if not SCRIPT_MIN_SECONDS <= seconds <= SCRIPT_MAX_SECONDS:
        raise ValueError(
            f"seconds must be between {SCRIPT_MIN_SECONDS} and {SCRIPT_MAX_SECONDS}, got {seconds}"
        )
    video_platform = SCRIPT_PLATFORM_ALIASES.get(platform, platform)
    if video_platform not in SCRIPT_PLATFORMS:
        known = sorted(SCRIPT_PLATFORMS | set(SCRIPT_PLATFORM_ALIASES))
        raise ValueError(f"unknown video platform {platform!r}; use one of {', '.join(known)}")
    c = _Composer(brief)
    hook = c.pick("script_hook")
    cta = c.pick_from("script_cta", c.pool("script_cta", video_platform))
    cta_text = c.pick("script_cta_text")
    # On screen there is room for one short line: the sizes, else the colours, else the method.
    options = c.size_line() or c.colour_line() or c.facts.method
    great_for = c.great_for_line() or c.facts.name
    # (shot, voice over, on-screen text) per scene; timings are set once the count is known.
    scenes = [
        (c.pick("script_hook_shot"), hook, c.idea),
        (c.pick("script_reveal_shot"), c.pick("script_reveal_vo"), c.facts.name),
        (c.pick("script_detail_shot"), c.pick("script_detail_vo"), options),
        (c.pick("script_gift_shot"), c.pick("script_gift_vo"), great_for),
        (c.pick("script_cta_shot"), cta, cta_text),
    ]
    weights = [2, 3, 3, 2, 2]
    if seconds < 10:
        # Too short for five scenes: hook, reveal, call to action.
        scenes = [scenes[0], scenes[1], scenes[4]]
        weights = [1, 2, 1]
    timed = [
        Scene(seconds=n, shot=shot, voice_over=voice_over, on_screen_text=text)
        for (shot, voice_over, text), n in zip(
            scenes, _split_seconds(seconds, weights), strict=True
        )
    ]
    script = VideoScript(
        hook=hook,
        scenes=timed,
        call_to_action=cta,
        hashtags=c.hashtags(SCRIPT_HASHTAG_COUNT),
    )
    return _scrubbed_script(script, c.banned)


def _scrubbed_script(script: VideoScript, banned: _Banned) -> VideoScript:
    if banned.pattern is None:
        return script
    return VideoScript(
        hook=banned.scrub(script.hook),
        scenes=[
            Scene(
                seconds=s.seconds,
                shot=banned.scrub(s.shot),
                voice_over=banned.scrub(s.voice_over),
                on_screen_text=banned.scrub(s.on_screen_text),
            )
            for s in script.scenes
        ],
        call_to_action=banned.scrub(script.call_to_action),
        hashtags=[h for h in script.hashtags if not banned.in_hashtag(h)],
    )


__all__ = [
    "LEXICON_DIR",
    "SLOTS",
    "TONES",
    "Lexicon",
    "Scene",
    "VideoScript",
    "canonical_tones",
    "compose_listing",
    "compose_script",
    "load_lexicon",
]
