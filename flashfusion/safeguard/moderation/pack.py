"""Rule packs: the JSON files under `packs/`, validated with Pydantic when they load.

A pack is one policy (a platform's, or FlashFusion's own) at one version:

    {"id", "version", "updated", "title", "source", "label", "rules": [rule, …]}

and a rule is

    {"id", "category": "policy"|"ip"|"claims", "kind", "title", "verdict": "warn"|"block",
     "patterns": [{"lang", "phrases": […]} | {"lang", "regex": "…"}],
     "exceptions": ["phrase", {"regex": "…"}, …], "message", "reason", "source", "label",
     "platforms": {"amazon": {"verdict", "source"}}, "examples": {"hit": […], "miss": […]}}

Phrases and regexes match folded text (`text.fold`: lower case, no accents, leetspeak read as
letters) and are anchored at word edges. A match that overlaps an exception match is dropped
("toy gun" for "gun"; exception phrases accept plurals too: "water guns"). `platforms` raises
(never lowers) the verdict when the listing goes to that platform, with that platform's policy
page as the source. A rule without a source is
FlashFusion's own and must say so: `"label": "FlashFusion rule"`. `examples` are test cases: every
`hit` must fire the rule, no `miss` may (tests/safeguard/moderation checks them all).

A broken pack raises `PackError` naming the file, the rule id and the field.
"""

import json
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from flashfusion.safeguard.moderation.text import fold_phrase

FLASHFUSION_LABEL = "FlashFusion rule"
URL = Annotated[str, Field(pattern=r"^https?://\S+$")]
Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)]

# Between the words of a phrase: nothing ("spiderman"), a space, a hyphen, "&", "%" … (FlashFusion's
# choice: at most three such characters, so a phrase never spans a sentence of other words).
_JOINER = r"[\s\-_.'&+/%]{0,3}"
_PLURAL = r"(?:s|es|'s)?"


class PackError(ValueError):
    """A rule pack that cannot be used; the message names the file, rule and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def phrase_regex(phrase: str, *, plural: bool) -> str:
    """The regex (on folded text) for a phrase: its words in order, any light separator between
    them, anchored at word edges; `plural` also accepts s / es / 's after the last word."""
    words = re.findall(r"[^\W_]+", fold_phrase(phrase))
    if not words:
        raise ValueError(f"phrase {phrase!r} has no letters or digits")
    body = _JOINER.join(re.escape(word) for word in words)
    if plural and words[-1].isalpha():
        body += _PLURAL
    return body


def bounded(body: str) -> str:
    return rf"(?<!\w)(?:{body})(?!\w)"


class Pattern(_Strict):
    lang: str = Field(default="en", pattern=r"^[a-z]{2}$", description="ISO 639-1.")
    phrases: list[str] = Field(default_factory=list)
    regex: str | None = None
    plural: bool = True

    @model_validator(mode="after")
    def _one_kind(self) -> "Pattern":
        if bool(self.phrases) == (self.regex is not None):
            raise ValueError("give either 'phrases' (a non-empty list) or 'regex', not both")
        for phrase in self.phrases:
            phrase_regex(phrase, plural=self.plural)
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as e:
                raise ValueError(f"regex {self.regex!r} does not compile: {e}") from None
        return self

    def anchors(self) -> list[str] | None:
        """Literal text every match contains (each phrase's first word), None for a regex: the
        engine skips a rule whose anchors are all absent from the text."""
        if self.regex is not None:
            return None
        return [re.findall(r"[^\W_]+", fold_phrase(p))[0] for p in self.phrases]

    def sources(self) -> list[str]:
        """Regex bodies (unanchored) for this pattern."""
        if self.regex is not None:
            return [self.regex]
        return [phrase_regex(p, plural=self.plural) for p in self.phrases]


class ExceptionSpec(_Strict):
    """An exception: a phrase (written in the pack as a plain string) or {"regex": "…"}."""

    phrase: str | None = None
    regex: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"phrase": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_kind(self) -> "ExceptionSpec":
        if (self.phrase is None) == (self.regex is None):
            raise ValueError('an exception is a phrase (a string) or {"regex": "…"}')
        if self.phrase is not None:
            phrase_regex(self.phrase, plural=True)
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as e:
                raise ValueError(f"regex {self.regex!r} does not compile: {e}") from None
        return self

    def source(self) -> str:
        return self.regex if self.regex is not None else phrase_regex(str(self.phrase), plural=True)


class PlatformVerdict(_Strict):
    verdict: Literal["warn", "block"]
    source: URL
    message: str | None = None


class Examples(_Strict):
    hit: list[str] = Field(min_length=1)
    miss: list[str] = Field(min_length=1)


class Rule(_Strict):
    id: Identifier
    category: Literal["policy", "ip", "claims"]
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Finding code: category.kind")
    title: str = Field(min_length=1)
    verdict: Literal["warn", "block"]
    patterns: list[Pattern] = Field(min_length=1)
    exceptions: list[ExceptionSpec] = Field(default_factory=list)
    message: str = Field(min_length=1, description="What it means and what to do; {matched}.")
    reason: str | None = None
    source: URL | None = None
    label: str | None = None
    platforms: dict[str, PlatformVerdict] = Field(default_factory=dict)
    examples: Examples

    @model_validator(mode="after")
    def _sourced(self) -> "Rule":
        if self.source is None and self.label != FLASHFUSION_LABEL:
            raise ValueError(
                f"a rule without a source is FlashFusion's own: set label to {FLASHFUSION_LABEL!r}"
            )
        return self

    def exception_sources(self) -> list[str]:
        return [exception.source() for exception in self.exceptions]


class Pack(_Strict):
    id: Identifier
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    updated: date
    title: str = Field(min_length=1)
    source: URL | None = None
    label: str | None = None
    note: str | None = None
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "Pack":
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self


def _where(data: Any, loc: tuple[int | str, ...]) -> str:
    """ "rule 'x' field a.b" for a Pydantic error location inside the rules list."""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = data.get("rules") if isinstance(data, dict) else None
        rule = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        name = repr(rule_id) if rule_id else f"#{loc[1] + 1} (no id)"
        field = ".".join(str(part) for part in loc[2:]) or "(the rule)"
        return f"rule {name}, field {field}"
    return "field " + (".".join(str(part) for part in loc) or "(top level)")


def parse_pack(raw: str, name: str) -> Pack:
    """Validate one pack's JSON text; `name` (the file name) is used in error messages."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise PackError(
            f"{name}: not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from None
    try:
        pack = Pack.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{_where(data, tuple(error['loc']))}: {error['msg']}" for error in e.errors()
        )
        raise PackError(f"{name}: {problems}. Fix the pack file and reload.") from None
    expected = Path(name).stem
    if pack.id != expected:
        raise PackError(f"{name}: pack id {pack.id!r} must match the file name ({expected!r}).")
    return pack


def load_pack(path: Path) -> Pack:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PackError(f"{path.name}: cannot be read ({e.strerror}).") from None
    return parse_pack(raw, path.name)


def load_packs(directory: Path) -> dict[str, Pack]:
    """Every `*.json` pack in `directory`, by id."""
    packs = [load_pack(path) for path in sorted(directory.glob("*.json"))]
    if not packs:
        raise PackError(f"{directory}: no rule packs (*.json) found.")
    return {pack.id: pack for pack in packs}
