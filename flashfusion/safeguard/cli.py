"""`flashfusion screen --text "…" --product tshirt`: screen a phrase without a workspace.

It uses what is on this machine: the bundled starter marks, the rule packs, and the marks
database when this installation's database is migrated (register imports fill it). Plagiarism and
AI moderation need a workspace, so they are not run here.

Exit codes: 0 PASS, 3 WARN, 4 BLOCK; 2 bad input (as for any usage error), 1 anything else.
"""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url

console = Console()
err = Console(stderr=True)

EXIT_CODES = {"pass": 0, "warn": 3, "block": 4}
EXIT_BAD_INPUT = 2
CONTEXT = 30  # characters shown either side of a match
VERDICT_STYLE = {"pass": "green", "warn": "yellow", "block": "bold red"}


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    err.print(f"[bold red]Error:[/] {message}")
    raise typer.Exit(code)


def _marks_database() -> tuple[bool, str]:
    """Whether this installation's database can be read for marks, and why not."""
    from flashfusion import migrate
    from flashfusion.config import get_settings

    try:
        settings = get_settings()
        if settings.is_sqlite:
            # Opening a SQLite file that is not there would create it: look first.
            path = make_url(settings.database_url).database
            if not path or not Path(path).is_file():
                return False, "no database here yet (run `flashfusion db upgrade`)"
        current = migrate.current_revision_sync(settings)
    except Exception as e:  # noqa: BLE001 -- screening still works from the starter set
        return False, f"the database is not reachable ({type(e).__name__})"
    if current != migrate.head_revision():
        return False, "the database is not migrated (run `flashfusion db upgrade`)"
    return True, ""


def highlighted(text: str, start: int, end: int) -> Text:
    """The match in its context, the matched words highlighted."""
    left = max(0, start - CONTEXT)
    right = min(len(text), end + CONTEXT)
    out = Text("…" if left else "")
    out.append(text[left:start].replace("\n", " "))
    out.append(text[start:end].replace("\n", " "), style="bold black on yellow")
    out.append(text[end:right].replace("\n", " "))
    if right < len(text):
        out.append("…")
    return out


def _evidence(evidence: dict[str, Any]) -> str:
    if "mark" in evidence:
        parts = [str(evidence["mark"])]
        number = evidence.get("registration_number") or evidence.get("serial_number")
        if number:
            label = "reg." if evidence.get("registration_number") else "serial"
            parts.append(f"{label} {number}")
        for key in ("status", "office", "owner", "match_type"):
            if evidence.get(key):
                parts.append(str(evidence[key]))
        if evidence.get("classes"):
            parts.append("classes " + ", ".join(str(c) for c in evidence["classes"]))
        return " · ".join(parts)
    if "rule" in evidence:
        pack = " ".join(str(evidence[k]) for k in ("pack", "pack_version") if evidence.get(k))
        return f"{evidence['rule']} ({pack})" if pack else str(evidence["rule"])
    return ", ".join(f"{k}: {v}" for k, v in list(evidence.items())[:3])


def screen(
    text: Annotated[str, typer.Option("--text", help="The phrase or copy to screen.")],
    product: Annotated[
        str, typer.Option("--product", help="Catalog product type it goes on, e.g. tshirt, mug.")
    ],
    platform: Annotated[
        list[str] | None,
        typer.Option(help="Platform whose rules apply (etsy, amazon, …); repeat for several."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Screen a phrase for trademarks, policy, IP, claims and quality (exit 0/3/4 for
    PASS/WARN/BLOCK)."""
    from flashfusion.catalog.registry import get_catalog
    from flashfusion.safeguard.pipeline import InvalidScreen, ScreenSettings, run_checks
    from flashfusion.safeguard.subject import text_subject

    if not text.strip():
        _fail("--text: is empty; give the phrase to screen, e.g. --text 'Stay Wild'.")
    try:
        subject = text_subject(
            get_catalog(), text=text, product_type=product, platforms=list(platform or [])
        )
    except InvalidScreen as e:
        message = e.detail
        for name, option in (("product_type", "--product"), ("platforms", "--platform")):
            message = message.replace(f"{name}:", f"{option}:", 1)
        _fail(message.replace("text:", "--text:", 1))
        return

    use_database, why_not = _marks_database()

    async def _main() -> Any:
        if not use_database:
            return await run_checks(None, subject, organization_id=None, settings=ScreenSettings())
        from flashfusion.db import unit_of_work

        async with unit_of_work() as session:
            return await run_checks(
                session, subject, organization_id=None, settings=ScreenSettings()
            )

    from flashfusion.cli import _run

    result = _run(_main)
    verdict = result.verdict.value
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "verdict": verdict,
                    "findings": [f.as_dict() for f in result.findings],
                    "counts": result.counts,
                    "quality_score": result.quality_score,
                    "checks": result.checks,
                    "marks_database": use_database,
                },
                default=str,
            )
        )
        raise typer.Exit(EXIT_CODES[verdict])
    if result.findings:
        table = Table("verdict", "category", "code", "match", "evidence", "what to do")
        for finding in result.findings:
            match: Text | str = "—"
            if finding.span is not None:
                field = subject.field(finding.span.field)
                match = (
                    highlighted(field.text, finding.span.start, finding.span.end)
                    if field is not None
                    else finding.span.text
                )
            table.add_row(
                Text(finding.verdict.value.upper(), style=VERDICT_STYLE[finding.verdict.value]),
                finding.category.value,
                finding.code,
                match,
                _evidence(finding.evidence) + (f"\n{finding.source}" if finding.source else ""),
                finding.message,
            )
        console.print(table)
    score = "" if result.quality_score is None else f" · quality {result.quality_score}/100"
    console.print(
        Text("Verdict: ")
        + Text(verdict.upper(), style=VERDICT_STYLE[verdict])
        + Text(f" · {len(result.findings)} finding(s){score}")
    )
    if not use_database:
        console.print(f"[dim]Marks database not used: {why_not}; starter set only.[/]")
    for name, error in (result.checks.get("errors") or {}).items():
        err.print(f"[yellow]The {name} check could not run:[/] {error}")
    raise typer.Exit(EXIT_CODES[verdict])
