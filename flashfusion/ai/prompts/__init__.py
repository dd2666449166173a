"""Prompt templates: versioned files (`<name>.md`) with variables, rendered by Jinja2.

A file starts with a front matter block (`name`, `version`) and holds a `[system]` and a `[user]`
part. The generation record stores the name, version and SHA-256 of the file, so any change to a
template (even one that forgets to bump the version) is visible in the ledger.
"""

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from flashfusion.ai.types import Message

PROMPTS = Path(__file__).parent
_BLANKS = re.compile(r"\n{3,}")
_ENV = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)


@cache
def _compiled(source: str) -> Template:
    """Compiling costs far more than rendering: each template source is compiled once."""
    return _ENV.from_string(source)


class PromptError(ValueError):
    """A template is malformed or a variable it needs is missing."""


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    sha256: str
    system: str
    user: str

    def render(self, variables: dict[str, Any]) -> list[Message]:
        try:
            system = _compiled(self.system).render(**variables).strip()
            user = _compiled(self.user).render(**variables).strip()
        except TemplateError as e:
            raise PromptError(f"prompt {self.name} v{self.version}: {e}") from e
        return [
            Message(role="system", content=_BLANKS.sub("\n\n", system)),
            Message(role="user", content=_BLANKS.sub("\n\n", user)),
        ]


def parse(text: str, *, origin: str) -> PromptTemplate:
    if not text.startswith("---\n"):
        raise PromptError(f"{origin}: must start with a '---' front matter block")
    header, _, body = text[4:].partition("\n---\n")
    meta: dict[str, str] = {}
    for line in header.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            raise PromptError(f"{origin}: front matter line {line!r} is not 'key: value'")
        meta[key.strip()] = value.strip()
    for required in ("name", "version"):
        if not meta.get(required):
            raise PromptError(f"{origin}: front matter needs '{required}'")
    if "[system]" not in body or "[user]" not in body:
        raise PromptError(f"{origin}: needs a [system] and a [user] part")
    system, _, user = body.split("[system]", 1)[1].partition("[user]")
    return PromptTemplate(
        name=meta["name"],
        version=meta["version"],
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        system=system.strip("\n"),
        user=user.strip("\n"),
    )


@cache
def load(name: str) -> PromptTemplate:
    path = PROMPTS / f"{name}.md"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROMPTS.glob("*.md")))
        raise PromptError(f"no prompt template {name!r}; known: {known}")
    return parse(path.read_text(encoding="utf-8"), origin=path.name)
