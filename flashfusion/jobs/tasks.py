"""Instance diagnostics: a job that exercises durable steps and sleeps end to end."""

import os

from dbos import DBOS

from flashfusion.jobs.registry import job


@DBOS.step(name="diagnostics.selftest_step")
async def selftest_step(number: int) -> dict[str, object]:
    return {"step": number, "executor_id": DBOS.executor_id, "pid": os.getpid()}


@job("diagnostics.selftest", label="Job engine self-test", queue="default")
async def selftest(steps: str, seconds: str) -> list[dict[str, object]]:
    """Run `steps` checkpointed steps with a durable sleep of `seconds` after each.

    After a crash the run resumes at the first unfinished step: finished steps are not repeated
    and a sleep in progress continues where it was.
    """
    results = []
    for number in range(1, int(steps) + 1):
        results.append(await selftest_step(number))
        await DBOS.sleep_async(float(seconds))
    return results
