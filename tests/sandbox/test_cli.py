"""`flashfusion sandbox serve` in a subprocess on free ports: every twin answers its vendor's SDK
(or, for TSDR, httpx) with the key printed for this run and refuses another; Ctrl-C stops it
cleanly. Bad input: an unknown service (exit 2), a busy port (exit 1), a too-short key."""

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from flashfusion.kit.media_storage import S3MediaStorage
from flashfusion.sandbox import SERVICES, Service
from flashfusion.sandbox.anthropic_api import MODELS as ANTHROPIC_MODELS
from flashfusion.sandbox.cli import chosen, environment
from flashfusion.sandbox.gemini_api import MODELS as GEMINI_MODELS
from flashfusion.sandbox.openai_api import MODELS as OPENAI_MODELS

COMMAND = [sys.executable, "-c", "from flashfusion.cli import app; app()", "sandbox", "serve"]
READY = "Serving; press Ctrl-C to stop."
START_TIMEOUT = 90  # seconds: importing the CLI on a busy 2-core machine


@dataclass
class Run:
    process: subprocess.Popen[str]
    lines: list[str]

    @property
    def env(self) -> dict[str, str]:
        found = {}
        for line in self.lines:
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").partition("=")
                found[name] = value
        return found


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFUSION_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start(*args: str, env: dict[str, str] | None = None) -> Run:
    """The command, read until it serves (or ends); killed if it takes too long."""
    process = subprocess.Popen(
        [*COMMAND, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**_environment(), **(env or {})},
    )
    watchdog = threading.Timer(START_TIMEOUT, process.kill)
    watchdog.start()
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if lines[-1] == READY:
                break
    finally:
        watchdog.cancel()
    return Run(process, lines)


@pytest.fixture
def served() -> Iterator[Run]:
    run = start("--port-base", "0")
    try:
        assert run.lines[-1:] == [READY], (run.lines, _stderr(run))
        yield run
    finally:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait(10)


def _stderr(run: Run) -> str:
    if run.process.poll() is None:
        return ""
    assert run.process.stderr is not None
    return run.process.stderr.read()


def stop(run: Run) -> tuple[int, str]:
    run.process.send_signal(signal.SIGINT)
    out, _ = run.process.communicate(timeout=30)
    return run.process.returncode, out


async def test_every_twin_answers_its_sdk_with_the_printed_key_and_ctrl_c_stops_them(
    served: Run,
) -> None:
    env = served.env
    table = "\n".join(served.lines)
    for name in SERVICES:
        assert f"│ {name} " in table, name
    # Keys are made for this run: one per twin, each different.
    keys = [env[f"FLASHFUSION_{s.key_setting}"] for s in SERVICES.values() if s.key_setting] + [
        env["FLASHFUSION_S3_SECRET_ACCESS_KEY"]
    ]
    assert len(set(keys)) == len(keys) == 7
    assert all(k.startswith("sandbox-") and len(k) == len("sandbox-") + 32 for k in keys)

    for provider in ("openai", "xai", "perplexity"):
        prefix = provider.upper()
        client = openai.AsyncOpenAI(
            api_key=env[f"FLASHFUSION_{prefix}_API_KEY"],
            base_url=env[f"FLASHFUSION_{prefix}_BASE_URL"],
            max_retries=0,
        )
        model = next(iter(OPENAI_MODELS[provider]))
        async with client:
            answer = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Say hello"}]
            )
            assert answer.choices[0].message.content
            assert answer.usage is not None
            assert answer.usage.prompt_tokens > 0
            with pytest.raises(openai.AuthenticationError):
                await client.with_options(api_key="sandbox-not-this-one").chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "Say hello"}]
                )
    # The local model server takes any key, as Ollama does.
    async with openai.AsyncOpenAI(
        api_key="anything", base_url=env["FLASHFUSION_LOCAL_AI_BASE_URL"], max_retries=0
    ) as local:
        answer = await local.chat.completions.create(
            model=next(iter(OPENAI_MODELS["local"])),
            messages=[{"role": "user", "content": "Say hello"}],
        )
        assert answer.choices[0].message.content

    async with anthropic.AsyncAnthropic(
        api_key=env["FLASHFUSION_ANTHROPIC_API_KEY"],
        base_url=env["FLASHFUSION_ANTHROPIC_BASE_URL"],
        max_retries=0,
    ) as claude:
        message = await claude.messages.create(
            model=next(iter(ANTHROPIC_MODELS)),
            max_tokens=200,
            messages=[{"role": "user", "content": "Say hello"}],
        )
        assert message.content[0].type == "text"
        assert message.usage.input_tokens > 0
        with pytest.raises(anthropic.AuthenticationError):
            await claude.with_options(api_key="sandbox-not-this-one").messages.create(
                model=next(iter(ANTHROPIC_MODELS)),
                max_tokens=200,
                messages=[{"role": "user", "content": "Say hello"}],
            )

    gemini = genai.Client(
        api_key=env["FLASHFUSION_GEMINI_API_KEY"],
        http_options=genai_types.HttpOptions(
            base_url=env["FLASHFUSION_GEMINI_BASE_URL"],
            retry_options=genai_types.HttpRetryOptions(attempts=1),
        ),
    )
    reply = await gemini.aio.models.generate_content(
        model=next(iter(GEMINI_MODELS)), contents="Say hello"
    )
    assert reply.text
    assert reply.usage_metadata is not None
    assert reply.usage_metadata.prompt_token_count

    assert env["FLASHFUSION_MEDIA_BACKEND"] == "s3"
    async with S3MediaStorage(
        env["FLASHFUSION_S3_ENDPOINT_URL"],
        env["FLASHFUSION_S3_BUCKET"],
        env["FLASHFUSION_S3_REGION"],
        env["FLASHFUSION_S3_ACCESS_KEY_ID"],
        env["FLASHFUSION_S3_SECRET_ACCESS_KEY"],
        max_attempts=1,
    ) as storage:
        await storage.put("sandbox/hello.txt", b"hello", "text/plain")
        assert await storage.get("sandbox/hello.txt") == b"hello"

    async with httpx.AsyncClient(base_url=env["FLASHFUSION_USPTO_TSDR_BASE_URL"]) as tsdr:
        url = "/casestatus/sn97000000/info"
        # The key opens it (a serial it has no case for is 404); without the key, 401.
        known = await tsdr.get(
            url, headers={"USPTO-API-KEY": env["FLASHFUSION_USPTO_TSDR_API_KEY"]}
        )
        assert known.status_code == 404, known.text
        assert (await tsdr.get(url)).status_code == 401

    # Platform twins: the token to connect with is printed; the twin takes it and no other.
    tokens = {
        line.split(": connect it in FlashFusion", 1)[0]: line.rsplit(": ", 1)[1]
        for line in served.lines
        if ": connect it in FlashFusion with this " in line
    }
    assert set(tokens) == {"Printify", "Printful"}
    for label, path in (("Printify", "/v1/shops.json"), ("Printful", "/stores")):
        base = env[f"FLASHFUSION_{label.upper()}_BASE_URL"]
        async with httpx.AsyncClient(base_url=base) as platform:
            ok = await platform.get(path, headers={"Authorization": f"Bearer {tokens[label]}"})
            assert ok.status_code == 200, (label, ok.text)
            refused = await platform.get(path, headers={"Authorization": "Bearer not-this-one"})
            assert refused.status_code == 401, (label, refused.text)
    # Etsy: the app's keystring and shared secret, and the OAuth and webhook settings.
    assert env["FLASHFUSION_ETSY_TOKEN_URL"] == env["FLASHFUSION_ETSY_BASE_URL"] + (
        "/v3/public/oauth/token"
    )
    assert env["FLASHFUSION_ETSY_WEBHOOK_SECRET"].startswith("whsec_")
    async with httpx.AsyncClient(base_url=env["FLASHFUSION_ETSY_BASE_URL"]) as etsy:
        api_key = f"{env['FLASHFUSION_ETSY_KEYSTRING']}:{env['FLASHFUSION_ETSY_SHARED_SECRET']}"
        ping = await etsy.get("/v3/application/openapi-ping", headers={"x-api-key": api_key})
        assert ping.status_code == 200, ping.text
        denied = await etsy.get("/v3/application/openapi-ping", headers={"x-api-key": "nope"})
        assert denied.status_code in (401, 403), denied.text

    code, rest = stop(served)
    assert code == 0, rest
    assert rest.strip().splitlines()[-1] == "Stopped."


def test_one_key_for_every_twin_can_be_given_and_only_named_twins_run() -> None:
    run = start(
        "--port-base", "0", "--only", "anthropic, openai",
        env={"FLASHFUSION_SANDBOX_API_KEY": "sandbox-fixed-key-for-scripts"},
    )  # fmt: skip
    try:
        assert run.lines[-1] == READY, (run.lines, _stderr(run))
        env = run.env
        assert sorted(env) == [
            "FLASHFUSION_ANTHROPIC_API_KEY",
            "FLASHFUSION_ANTHROPIC_BASE_URL",
            "FLASHFUSION_OPENAI_API_KEY",
            "FLASHFUSION_OPENAI_BASE_URL",
        ]
        assert env["FLASHFUSION_OPENAI_API_KEY"] == "sandbox-fixed-key-for-scripts"
        assert env["FLASHFUSION_ANTHROPIC_API_KEY"] == "sandbox-fixed-key-for-scripts"
        # Registry order, not the order asked for.
        rows = [line.split("│")[1].strip() for line in run.lines if line.startswith("│")]
        assert rows == ["openai", "anthropic"]
        with openai.OpenAI(
            api_key="sandbox-fixed-key-for-scripts",
            base_url=env["FLASHFUSION_OPENAI_BASE_URL"],
            max_retries=0,
        ) as client:
            models = client.models.list()
            # The chat models it serves (and its moderation and image models).
            assert set(OPENAI_MODELS["openai"]) <= {m.id for m in models.data}
    finally:
        code, _ = stop(run)
    assert code == 0


def test_an_unknown_service_is_a_usage_error() -> None:
    result = subprocess.run(
        [*COMMAND, "--only", "openai,shopify"],
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=START_TIMEOUT,
    )
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.replace("│", " ").split())
    assert (
        "Invalid value for --only: unknown service 'shopify'; choose from openai, anthropic, "
        "gemini, xai, perplexity, local, s3, uspto_tsdr, printify, printful, etsy" in message
    ), message
    assert READY not in result.stdout


def test_a_port_in_use_is_refused_with_what_to_do() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*COMMAND, "--port-base", str(port), "--only", "openai"],
            capture_output=True,
            text=True,
            env=_environment(),
            timeout=START_TIMEOUT,
        )
    assert result.returncode == 1, result.stderr
    message = " ".join(result.stderr.split())
    assert message == (
        f"Error: port {port} on 127.0.0.1 (openai) is already in use: stop what listens there, "
        "or choose other ports with --port-base (0 picks free ones)."
    )
    assert READY not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--api-key", "short"], "Invalid value for --api-key: use at least 8 characters."),
        (
            ["--port-base", "65530"],
            "Invalid value for --port-base: 11 twins from port 65530 go past 65535; choose a "
            "lower one.",
        ),
    ],
)
def test_bad_options_are_usage_errors(args: list[str], message: str) -> None:
    result = subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, env=_environment(), timeout=90
    )
    assert result.returncode == 2, result.stderr
    assert message in " ".join(result.stderr.replace("│", " ").split())


def test_a_new_twin_is_one_registry_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `serve` does with a registry entry: build the app with the run's key, and tell
    FlashFusion where it is (here the TSDR twin under another name)."""
    twin = Service(
        "etsy", "Etsy Open API", "flashfusion.sandbox.uspto_tsdr:create_app",
        "ETSY_BASE_URL", "ETSY_API_KEY", "/v3",
    )  # fmt: skip
    monkeypatch.setitem(SERVICES, "etsy", twin)
    [picked] = chosen("etsy")
    assert picked is twin
    app = twin.build("sandbox-key-12345678", "unused")
    assert app.state.sandbox.api_keys == {"sandbox-key-12345678"}  # type: ignore[attr-defined]
    from flashfusion.sandbox.cli import Served

    served = Served(twin, socket.socket(), "http://127.0.0.1:9999", "sandbox-k", "unused")
    try:
        assert environment([served]) == [
            ("FLASHFUSION_ETSY_BASE_URL", "http://127.0.0.1:9999/v3"),
            ("FLASHFUSION_ETSY_API_KEY", "sandbox-k"),
        ]
    finally:
        served.socket.close()
