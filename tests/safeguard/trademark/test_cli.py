"""`flashfusion trademarks …` run as a subprocess on an isolated home and database: imports with
a progress bar and a summary, status, lookup; bad paths and wrong formats exit 2 with one
`Error: …` message and never a traceback."""

import zipfile
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.fixtures.processes import Deployment, deployment, query

DATA = Path(__file__).parent / "data"
WIDE = {"COLUMNS": "250"}


def ok(result: CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return " ".join(result.stdout.split())


def refused(result: CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    return " ".join(result.stderr.split())


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployment(tmp_path_factory.mktemp("trademarks") / "home", **WIDE) as installation:
        ok(installation.cli("db", "upgrade"))
        yield installation


def test_import_then_update_then_status(installation: Deployment, tmp_path: Path) -> None:
    archive = tmp_path / "apc261201.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(DATA / "uspto_daily_sample.xml", "apc261201.xml")

    first = ok(installation.cli("trademarks", "import", str(archive), "--office", "uspto"))

    assert "apc261201.zip (uspto)" in first
    assert "7 records · 5 new · 0 updated · 2 skipped" in first  # the progress bar's last text
    assert "│ 7 │ 5 │ 0 │ 0 │ 0 │ 2 │" in first
    assert "skipped 1: missing <serial-number>" in first
    assert "skipped 1: no word mark (<mark-identification> empty)" in first
    assert "1 mark(s) have a status code without a sourced meaning" in first

    update = ok(
        installation.cli(
            "trademarks",
            "import",
            str(DATA / "uspto_daily_update_sample.xml"),
            "--office",
            "uspto",
            "--kind",
            "daily",
            "--batch-size",
            "2",
        )
    )
    assert "│ 4 │ 1 │ 2 │ 1 │ 0 │ 0 │" in update

    rows = query(
        installation.database_url,
        "SELECT serial_number, status FROM trademark_marks ORDER BY serial_number",
    )
    assert rows == [
        ("90000001", "live"),
        ("90000002", "live"),
        ("90000003", "dead"),
        ("90000005", "pending"),
        ("90000006", "live"),
        ("90000008", "pending"),
    ]
    imports = query(
        installation.database_url,
        "SELECT file_name, kind, status, records_read, inserted, updated FROM trademark_imports "
        "ORDER BY created_at",
    )
    assert imports == [
        ("apc261201.zip", "daily", "done", 7, 5, 0),
        ("uspto_daily_update_sample.xml", "daily", "done", 4, 1, 2),
    ]

    status = ok(installation.cli("trademarks", "status"))
    assert "│ uspto │ 3 │ 2 │ 1 │ 6 │" in status
    assert "│ euipo │ 0 │ 0 │ 0 │ 0 │" in status
    assert "uspto_daily_update_sample.xml │ done │ 4 │ 1 │ 2 │ 0 │" in status

    lookup = ok(installation.cli("trademarks", "lookup", "90000002"))
    assert (
        "│ marks database │ MOONLIGHT PAWS │ live │ 700 │ 25 │ Paws & Whiskers Inc. │ 6100002 │"
        in lookup
    )
    assert "https://tsdr.uspto.gov/statusview/sn90000002" in lookup


def test_euipo_import(installation: Deployment) -> None:
    out = ok(
        installation.cli(
            "trademarks", "import", str(DATA / "euipo_full_sample.xml"), "--office", "euipo"
        )
    )
    assert "│ 5 │ 4 │ 0 │ 0 │ 0 │ 1 │" in out
    kinds = query(
        installation.database_url,
        "SELECT kind FROM trademark_imports WHERE office = 'euipo'",
    )
    assert kinds == [("euipo_full",)]


def test_bad_paths_and_formats_exit_2(installation: Deployment, tmp_path: Path) -> None:
    missing = refused(
        installation.cli("trademarks", "import", str(tmp_path / "x.zip"), "--office", "uspto")
    )
    assert (
        missing
        == f"Error: {tmp_path / 'x.zip'}: no such file; give the path of a downloaded bulk file."
    )
    directory = refused(
        installation.cli("trademarks", "import", str(tmp_path), "--office", "uspto")
    )
    assert "is a directory; give one bulk file" in directory
    wrong = refused(
        installation.cli(
            "trademarks", "import", str(DATA / "euipo_full_sample.xml"), "--office", "uspto"
        )
    )
    assert wrong == (
        "Error: euipo_full_sample.xml: not a USPTO trademark applications file (document "
        "element <Transaction>, expected <trademark-applications-daily>). It looks like an "
        "EUIPO file: use --office euipo."
    )
    kind = refused(
        installation.cli(
            "trademarks", "import", str(DATA / "uspto_daily_sample.xml"), "--office", "uspto",
            "--kind", "euipo_diff",
        )
    )  # fmt: skip
    assert kind == "Error: kind: euipo_diff is not a uspto file kind; use daily, annual."
    text = tmp_path / "notes.xml"
    text.write_text("not xml at all")
    assert "not an XML file (line 1, column 1: syntax error)" in refused(
        installation.cli("trademarks", "import", str(text), "--office", "uspto")
    )
    truncated = refused(
        installation.cli(
            "trademarks", "import", str(DATA / "uspto_truncated_sample.xml"), "--office", "uspto"
        )
    )
    assert truncated.startswith(
        "Error: uspto_truncated_sample.xml: malformed XML at line 32, column 43: mismatched tag."
    )
    failed = query(
        installation.database_url,
        "SELECT status FROM trademark_imports WHERE file_name = 'uspto_truncated_sample.xml'",
    )
    assert failed == [("failed",)]
    # An unknown --office is Typer's own usage error (exit 2 too).
    usage = installation.cli(
        "trademarks", "import", str(DATA / "uspto_daily_sample.xml"), "--office", "wipo"
    )
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr


def test_lookup_errors(installation: Deployment) -> None:
    assert refused(installation.cli("trademarks", "lookup", "12-34")) == (
        "Error: '12-34' is not a USPTO serial number; give its 8 digits, e.g. 78787878."
    )
    assert refused(installation.cli("trademarks", "lookup", "90000009", "--online"), 1) == (
        "Error: --online needs a TSDR API key: get one at https://account.uspto.gov/api-manager/ "
        "and set FLASHFUSION_USPTO_TSDR_API_KEY."
    )
    missing = installation.cli("trademarks", "lookup", "99999999")
    assert missing.returncode == 1
    assert " ".join(missing.stderr.split()) == (
        "No mark 99999999 in the marks database; try --online to ask USPTO TSDR."
    )
