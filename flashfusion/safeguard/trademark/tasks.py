"""Trademark jobs: importing a register bulk file (USPTO, EUIPO) as a durable job.

The job's progress is on its `trademark_imports` row (bytes and records done, counts), written
with every committed batch; its summary is the row's counts. A re-run after a crash resumes at
the first uncommitted batch (see `imports.py`).
"""

import uuid
from dataclasses import asdict
from typing import Any

from dbos import DBOS

from flashfusion.jobs.registry import job
from flashfusion.safeguard.trademark.imports import IMPORT_JOB, ImportFailed
from flashfusion.safeguard.trademark.imports import trademark_import as import_service


@DBOS.step(name="trademark.import_run")
async def run_import(import_id: str) -> dict[str, Any]:
    """Read the file into the marks database; the import's summary."""
    summary = await import_service.run(uuid.UUID(import_id))
    result = asdict(summary)
    result["id"] = str(summary.id)
    result["status"] = summary.status.value
    result["rescreen_job_id"] = str(summary.rescreen_job_id) if summary.rescreen_job_id else None
    return result


@DBOS.step(name="trademark.import_fail")
async def fail_import(import_id: str, message: str) -> None:
    await import_service.fail(uuid.UUID(import_id), message)


async def import_steps(import_id: str) -> dict[str, Any]:
    """The workflow's body (tests call it directly: DBOS is not launched there)."""
    try:
        return await run_import(import_id)
    except ImportFailed:
        raise  # the import row already says what was wrong with the file
    except Exception as e:
        await fail_import(
            import_id,
            f"The import stopped ({type(e).__name__}: {e}). What was committed stays; retry the "
            "job to continue from there.",
        )
        raise


@job(IMPORT_JOB, label="Import a trademark register file", queue="trademark_import")
async def import_marks(import_id: str) -> dict[str, Any]:
    """Import one register bulk file; a bad file fails the import with the line it broke on."""
    return await import_steps(import_id)
