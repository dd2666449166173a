"""Media storage: key validation, the local directory store, and the S3 client against the twin."""

import hashlib
import os
import stat
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from flashfusion.kit.media_storage import (
    FILE_MODE,
    InvalidMediaKey,
    LocalMediaStorage,
    MediaNotFound,
    MediaStorage,
    MediaStorageError,
    S3MediaStorage,
    build_media_storage,
    validate_key,
)
from flashfusion.sandbox.s3 import S3Sandbox, create_s3_app

ACCESS_KEY = "AKSANDBOX0001"
SECRET = "s3cr3t/Value+With=Chars"
ENDPOINT = "http://s3.sandbox:9000"
NOW = datetime(2025, 10, 11, 13, 53, 2, tzinfo=UTC)

# --------------------------------------------------------------------------- keys

BAD_KEYS = [
    "",
    "../etc/passwd",
    "a/../b",
    "..",
    "/abs/key.png",
    "Upper.png",
    "a//b.png",
    "a/",
    "a/./b.png",
    "a/.hidden",
    "a\\b.png",
    "a\x00b",
    "café.png",
    "a b.png",
    "x" * 257,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_validate_key_rejects_keys_that_could_escape_or_differ(key: str) -> None:
    with pytest.raises(InvalidMediaKey, match="media key .* is invalid"):
        validate_key(key)


@pytest.mark.parametrize(
    "key", ["a", "org-1/uploads/2b7e.png", "x" * 256, "a/b_c.d-e/f.png", "0/1"]
)
def test_validate_key_accepts_plain_keys(key: str) -> None:
    assert validate_key(key) == key


# --------------------------------------------------------------------------- local


@pytest.fixture
def local(tmp_path: Path) -> LocalMediaStorage:
    return LocalMediaStorage(tmp_path / "media")


def test_local_storage_satisfies_the_protocol(local: LocalMediaStorage) -> None:
    assert isinstance(local, MediaStorage)


async def test_local_round_trip(local: LocalMediaStorage, tmp_path: Path) -> None:
    await local.put("org1/uploads/a.png", b"\x89PNG data", "image/png")
    path = tmp_path / "media" / "org1" / "uploads" / "a.png"
    assert path.read_bytes() == b"\x89PNG data"
    assert stat.S_IMODE(path.stat().st_mode) == FILE_MODE == 0o640
    assert await local.get("org1/uploads/a.png") == b"\x89PNG data"
    assert await local.exists("org1/uploads/a.png") is True
    await local.put("org1/uploads/a.png", b"second", "image/png")
    assert await local.get("org1/uploads/a.png") == b"second"
    await local.delete("org1/uploads/a.png")
    assert await local.exists("org1/uploads/a.png") is False
    assert not path.exists()
    assert sorted(os.listdir(path.parent)) == []  # no temporary file left behind


async def test_local_missing_key(local: LocalMediaStorage) -> None:
    with pytest.raises(MediaNotFound) as caught:
        await local.get("org1/nothing.png")
    assert isinstance(caught.value, LookupError)
    assert caught.value.key == "org1/nothing.png"
    assert str(caught.value) == "No media is stored under key 'org1/nothing.png'."
    assert await local.exists("org1/nothing.png") is False
    await local.delete("org1/nothing.png")  # idempotent: no error
    await local.delete("org1/nothing.png")


async def test_local_prefix_is_not_an_object(local: LocalMediaStorage) -> None:
    await local.put("org1/a.png", b"x", "image/png")
    assert await local.exists("org1") is False
    with pytest.raises(MediaNotFound):
        await local.get("org1")
    await local.delete("org1")  # a prefix, not an object: nothing happens
    assert await local.get("org1/a.png") == b"x"
    with pytest.raises(MediaNotFound):
        await local.get("org1/a.png/b.png")  # a path "through" a file


async def test_local_new_file_is_invisible_until_complete(
    local: LocalMediaStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "media" / "org1" / "a.png"
    seen: list[tuple[bool, list[str]]] = []
    real_fsync = os.fsync

    def spying_fsync(fd: int) -> None:
        # Called with the temporary file fully written: the target must not exist yet.
        if not seen:
            seen.append((target.exists(), sorted(os.listdir(target.parent))))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spying_fsync)
    await local.put("org1/a.png", b"new bytes", "image/png")
    assert seen[0][0] is False
    assert len(seen[0][1]) == 1
    assert seen[0][1][0].startswith(".a.png.")
    assert target.read_bytes() == b"new bytes"


async def test_local_overwrite_shows_old_bytes_until_the_rename(
    local: LocalMediaStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await local.put("org1/a.png", b"old", "image/png")
    target = tmp_path / "media" / "org1" / "a.png"
    during: list[bytes] = []
    real_fsync = os.fsync

    def spying_fsync(fd: int) -> None:
        if not during:
            during.append(target.read_bytes())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spying_fsync)
    await local.put("org1/a.png", b"new and longer", "image/png")
    assert during == [b"old"]
    assert target.read_bytes() == b"new and longer"


async def test_local_failed_rename_leaves_nothing_partial(
    local: LocalMediaStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await local.put("org1/keep.png", b"keep", "image/png")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(MediaStorageError) as caught:
        await local.put("org1/a.png", b"doomed", "image/png")
    assert str(caught.value) == (
        f"Could not write media 'org1/a.png' under {tmp_path / 'media'}: No space left on device. "
        "Check that FLASHFUSION_HOME is writable and the disk has space."
    )
    assert sorted(os.listdir(tmp_path / "media" / "org1")) == ["keep.png"]


async def test_local_write_error_when_root_is_a_file(tmp_path: Path) -> None:
    root = tmp_path / "not-a-dir"
    root.write_bytes(b"")
    storage = LocalMediaStorage(root)
    with pytest.raises(MediaStorageError, match="Check that FLASHFUSION_HOME is writable"):
        await storage.put("a.png", b"x", "image/png")


async def test_local_read_error_is_explained(
    local: LocalMediaStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await local.put("a.png", b"x", "image/png")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(MediaStorageError) as caught:
        await local.get("a.png")
    assert "Permission denied. Check the permissions of FLASHFUSION_HOME." in str(caught.value)
    assert not isinstance(caught.value, MediaNotFound)


@pytest.mark.parametrize("key", ["../escape.png", "/etc/passwd", "a/../../b"])
async def test_local_every_operation_rejects_traversal(
    local: LocalMediaStorage, tmp_path: Path, key: str
) -> None:
    with pytest.raises(InvalidMediaKey):
        await local.put(key, b"x", "image/png")
    with pytest.raises(InvalidMediaKey):
        await local.get(key)
    with pytest.raises(InvalidMediaKey):
        await local.exists(key)
    with pytest.raises(InvalidMediaKey):
        await local.delete(key)
    assert not (tmp_path / "escape.png").exists()


async def test_local_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "media"
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    storage = LocalMediaStorage(root)
    with pytest.raises(InvalidMediaKey, match="resolves outside the media directory"):
        await storage.put("link/a.png", b"x", "image/png")
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("content_type", ["", "image/png\r\nX-Evil: 1"])
async def test_put_rejects_bad_content_type(local: LocalMediaStorage, content_type: str) -> None:
    with pytest.raises(ValueError, match="content_type .* is invalid: give a MIME type"):
        await local.put("a.png", b"x", content_type)


# --------------------------------------------------------------------------- S3 client vs twin


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def twin() -> Any:
    return create_s3_app(buckets={"media"}, credentials={ACCESS_KEY: SECRET}, clock=lambda: NOW)


@pytest.fixture
async def client(twin: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=twin)) as http:
        yield http


def sandbox_of(app: Any) -> S3Sandbox:
    state: S3Sandbox = app.state.sandbox
    return state


def make_s3(client: httpx.AsyncClient, **overrides: Any) -> tuple[S3MediaStorage, Sleeps]:
    sleeps = Sleeps()
    arguments: dict[str, Any] = {
        "endpoint_url": ENDPOINT,
        "bucket": "media",
        "region": "us-east-1",
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET,
        "client": client,
        "clock": lambda: NOW,
        "sleep": sleeps,
    }
    arguments.update(overrides)
    return S3MediaStorage(**arguments), sleeps


async def test_s3_round_trip_against_the_twin(client: httpx.AsyncClient, twin: Any) -> None:
    storage, sleeps = make_s3(client)
    assert isinstance(storage, MediaStorage)
    await storage.put("org1/uploads/a.png", b"\x89PNG bytes", "image/png")
    stored = sandbox_of(twin).buckets["media"]["org1/uploads/a.png"]
    assert stored.data == b"\x89PNG bytes"
    assert stored.content_type == "image/png"
    md5 = hashlib.md5(b"\x89PNG bytes").hexdigest()
    assert stored.etag == f'"{md5}"'
    assert await storage.get("org1/uploads/a.png") == b"\x89PNG bytes"
    assert await storage.exists("org1/uploads/a.png") is True
    await storage.delete("org1/uploads/a.png")
    assert await storage.exists("org1/uploads/a.png") is False
    await storage.delete("org1/uploads/a.png")  # idempotent
    assert dict(sandbox_of(twin).requests) == {
        "PutObject": 1,
        "GetObject": 1,
        "HeadObject": 2,
        "DeleteObject": 2,
    }
    assert dict(sandbox_of(twin).errors) == {"NoSuchKey": 1}  # the second HEAD
    assert sleeps.delays == []


async def test_s3_missing_key_is_media_not_found(client: httpx.AsyncClient) -> None:
    storage, _ = make_s3(client)
    with pytest.raises(MediaNotFound) as caught:
        await storage.get("org1/missing.png")
    assert caught.value.key == "org1/missing.png"
    assert caught.value.status == 404


async def test_s3_wrong_secret_names_the_setting_and_hides_the_secret(
    client: httpx.AsyncClient,
) -> None:
    wrong = "Wr0ng/Secret+Value"
    storage, sleeps = make_s3(client, secret_access_key=wrong)
    with pytest.raises(MediaStorageError) as caught:
        await storage.put("org1/a.png", b"x", "image/png")
    error = caught.value
    assert error.code == "SignatureDoesNotMatch"
    assert error.status == 403
    assert error.retryable is False
    assert str(error) == (
        "S3 could not store 'org1/a.png' in bucket 'media': 403 SignatureDoesNotMatch (The "
        "request signature we calculated does not match the signature you provided. Check your "
        "key and signing method.); check FLASHFUSION_S3_SECRET_ACCESS_KEY (it must be the secret "
        "of FLASHFUSION_S3_ACCESS_KEY_ID) and FLASHFUSION_S3_REGION."
    )
    assert wrong not in str(error)
    assert SECRET not in str(error)
    assert wrong not in repr(storage)
    assert sleeps.delays == []  # an auth failure is not retried


async def test_s3_unknown_access_key(client: httpx.AsyncClient) -> None:
    storage, _ = make_s3(client, access_key_id="AKUNKNOWN")
    with pytest.raises(MediaStorageError) as caught:
        await storage.get("org1/a.png")
    assert caught.value.code == "InvalidAccessKeyId"
    assert "check FLASHFUSION_S3_ACCESS_KEY_ID: the store does not know that key." in str(
        caught.value
    )


async def test_s3_missing_bucket(client: httpx.AsyncClient) -> None:
    storage, _ = make_s3(client, bucket="other-bucket")
    with pytest.raises(MediaStorageError) as caught:
        await storage.put("a.png", b"x", "image/png")
    assert caught.value.code == "NoSuchBucket"
    assert caught.value.status == 404
    assert str(caught.value).endswith("create the bucket or fix FLASHFUSION_S3_BUCKET.")
    assert not isinstance(caught.value, MediaNotFound)


async def test_s3_wrong_region(client: httpx.AsyncClient) -> None:
    storage, _ = make_s3(client, region="eu-west-1")
    with pytest.raises(MediaStorageError) as caught:
        await storage.get("a.png")
    assert caught.value.code == "AuthorizationHeaderMalformed"
    assert "the region 'eu-west-1' is wrong; expecting 'us-east-1'" in str(caught.value)
    assert "check FLASHFUSION_S3_REGION" in str(caught.value)


async def test_s3_clock_skew(client: httpx.AsyncClient) -> None:
    storage, _ = make_s3(client, clock=lambda: NOW + timedelta(minutes=16))
    with pytest.raises(MediaStorageError) as caught:
        await storage.get("a.png")
    assert caught.value.code == "RequestTimeTooSkewed"
    assert "sync it (NTP)" in str(caught.value)


async def test_s3_head_with_wrong_secret_explains_the_bodiless_403(
    client: httpx.AsyncClient,
) -> None:
    storage, _ = make_s3(client, secret_access_key="nope")
    with pytest.raises(MediaStorageError) as caught:
        await storage.exists("a.png")
    assert caught.value.status == 403
    assert caught.value.code is None
    assert str(caught.value) == (
        "S3 could not check 'a.png' in bucket 'media': 403; check FLASHFUSION_S3_ACCESS_KEY_ID, "
        "FLASHFUSION_S3_SECRET_ACCESS_KEY and the key's permissions (without s3:ListBucket S3 "
        "answers 403 for a missing key)."
    )


async def test_s3_slow_down_is_retried_then_succeeds(client: httpx.AsyncClient, twin: Any) -> None:
    sandbox_of(twin).faults.slow_down = 2
    storage, sleeps = make_s3(client)
    with capture_logs() as logs:
        await storage.put("org1/a.png", b"payload", "image/png")
    assert sandbox_of(twin).buckets["media"]["org1/a.png"].data == b"payload"
    assert sandbox_of(twin).requests["PutObject"] == 3
    assert sandbox_of(twin).errors["SlowDown"] == 2
    assert len(sleeps.delays) == 2
    # Full jitter under an exponential cap: attempt n waits at most 0.2 * 2**(n-1) seconds.
    assert 0 <= sleeps.delays[0] <= 0.2
    assert 0 <= sleeps.delays[1] <= 0.4
    assert [entry["reason"] for entry in logs] == ["SlowDown", "SlowDown"]
    assert [entry["attempt"] for entry in logs] == [1, 2]
    assert all(SECRET not in repr(entry) for entry in logs)


async def test_s3_retries_are_bounded(client: httpx.AsyncClient, twin: Any) -> None:
    sandbox_of(twin).faults.slow_down = 10
    storage, sleeps = make_s3(client, max_attempts=3)
    with pytest.raises(MediaStorageError) as caught:
        await storage.get("a.png")
    assert caught.value.code == "SlowDown"
    assert caught.value.status == 503
    assert caught.value.retryable is True
    assert str(caught.value) == (
        "S3 could not read 'a.png' in bucket 'media': 503 SlowDown (Please reduce your request "
        "rate.); the store is failing or throttling; gave up after 3 attempts."
    )
    assert sandbox_of(twin).requests["GetObject"] == 3
    assert len(sleeps.delays) == 2
    assert sandbox_of(twin).faults.slow_down == 7


async def test_s3_internal_errors_are_retried(client: httpx.AsyncClient, twin: Any) -> None:
    sandbox_of(twin).faults.error_rate = 1.0
    storage, sleeps = make_s3(client, max_attempts=2)
    with pytest.raises(MediaStorageError) as caught:
        await storage.exists("a.png")  # HEAD: no body, the status alone decides
    assert caught.value.status == 500
    assert caught.value.retryable is True
    assert len(sleeps.delays) == 1
    assert sandbox_of(twin).requests["HeadObject"] == 2


def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_s3_request_shape_and_path_prefix() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async with mock_client(handler) as http:
        storage, _ = make_s3(http, endpoint_url="https://storage.example.com:8443/s3/")
        await storage.put("org1/a.png", b"abc", "image/png")
    request = seen[0]
    assert str(request.url) == "https://storage.example.com:8443/s3/media/org1/a.png"
    assert request.headers["host"] == "storage.example.com:8443"
    assert request.headers["content-type"] == "image/png"
    assert request.headers["x-amz-content-sha256"] == hashlib.sha256(b"abc").hexdigest()
    assert request.headers["x-amz-date"] == "20251011T135302Z"
    assert request.headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20251011/us-east-1/s3/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature="
    )
    assert request.content == b"abc"


async def test_s3_network_errors_are_retried_then_succeed() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, content=b"data")

    async with mock_client(handler) as http:
        storage, sleeps = make_s3(http)
        assert await storage.get("a.png") == b"data"
    assert calls == 2
    assert len(sleeps.delays) == 1


async def test_s3_network_errors_give_up_with_advice() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with mock_client(handler) as http:
        storage, sleeps = make_s3(http, max_attempts=2)
        with pytest.raises(MediaStorageError) as caught:
            await storage.get("a.png")
    assert str(caught.value) == (
        "Could not reach the S3 store at http://s3.sandbox:9000 after 2 attempts (ReadTimeout). "
        "Check FLASHFUSION_S3_ENDPOINT_URL and the network."
    )
    assert caught.value.retryable is True
    assert len(sleeps.delays) == 1


async def test_s3_delete_tolerates_a_404_no_such_key() -> None:
    body = b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>"

    async with mock_client(lambda request: httpx.Response(404, content=body)) as http:
        storage, _ = make_s3(http)
        await storage.delete("a.png")


async def test_s3_permanent_redirect_reports_the_endpoint() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>PermanentRedirect</Code>'
        b"<Message>The bucket you are attempting to access must be addressed using the specified "
        b"endpoint.</Message><Endpoint>media.s3.eu-west-1.amazonaws.com</Endpoint></Error>"
    )
    async with mock_client(lambda request: httpx.Response(301, content=body)) as http:
        storage, _ = make_s3(http)
        with pytest.raises(MediaStorageError) as caught:
            await storage.get("a.png")
    assert caught.value.code == "PermanentRedirect"
    assert str(caught.value).endswith(
        "set FLASHFUSION_S3_ENDPOINT_URL and FLASHFUSION_S3_REGION to the bucket's region "
        "(S3 says the bucket's endpoint is media.s3.eu-west-1.amazonaws.com)."
    )


@pytest.mark.parametrize(
    "body",
    [
        b"<html>Bad gateway</html>",
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x "y">]><Error><Code>&x;</Code></Error>',
        b"not xml at all",
        b"",
    ],
)
async def test_s3_non_s3_error_bodies_fall_back_to_the_status(body: bytes) -> None:
    async with mock_client(lambda request: httpx.Response(400, content=body)) as http:
        storage, _ = make_s3(http)
        with pytest.raises(MediaStorageError) as caught:
            await storage.put("a.png", b"x", "image/png")
    assert caught.value.code is None
    assert str(caught.value) == "S3 could not store 'a.png' in bucket 'media': 400."


async def test_s3_owned_client_is_closed() -> None:
    async with S3MediaStorage(ENDPOINT, "media", "us-east-1", ACCESS_KEY, SECRET) as storage:
        assert repr(storage) == (
            "S3MediaStorage(endpoint_url='http://s3.sandbox:9000', bucket='media', "
            f"region='us-east-1', access_key_id='{ACCESS_KEY}')"
        )
        owned = storage._client
    assert owned.is_closed


async def test_s3_shared_client_is_left_open(client: httpx.AsyncClient) -> None:
    storage, _ = make_s3(client)
    await storage.aclose()
    assert not client.is_closed


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"endpoint_url": "ftp://x"}, "FLASHFUSION_S3_ENDPOINT_URL 'ftp://x' is invalid"),
        ({"endpoint_url": "http://x/?a=1"}, "must not have a query or fragment"),
        ({"endpoint_url": "http://ak:hunter2@x/"}, "must not contain user:password@; put"),
        ({"bucket": "Bad_Bucket"}, "FLASHFUSION_S3_BUCKET 'Bad_Bucket' is not a valid bucket"),
        ({"region": ""}, "FLASHFUSION_S3_REGION is empty"),
        ({"access_key_id": ""}, "FLASHFUSION_S3_ACCESS_KEY_ID is empty"),
        ({"secret_access_key": ""}, "FLASHFUSION_S3_SECRET_ACCESS_KEY is empty"),
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
    ],
)
async def test_s3_constructor_validates_settings(
    client: httpx.AsyncClient, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_s3(client, **overrides)


async def test_s3_operations_validate_keys(client: httpx.AsyncClient, twin: Any) -> None:
    storage, _ = make_s3(client)
    with pytest.raises(InvalidMediaKey):
        await storage.put("../x.png", b"x", "image/png")
    with pytest.raises(InvalidMediaKey):
        await storage.get("a//b")
    with pytest.raises(InvalidMediaKey):
        await storage.exists("/a")
    with pytest.raises(InvalidMediaKey):
        await storage.delete("A")
    assert sum(sandbox_of(twin).requests.values()) == 0


# --------------------------------------------------------------------------- build_media_storage


def test_build_local(tmp_path: Path) -> None:
    storage = build_media_storage(backend="local", home=tmp_path)
    assert isinstance(storage, LocalMediaStorage)
    assert storage.root == tmp_path / "media"


async def test_build_s3(tmp_path: Path) -> None:
    live = create_s3_app(buckets={"media"}, credentials={ACCESS_KEY: SECRET})  # real clock
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=live))
    storage = build_media_storage(
        backend="s3",
        home=tmp_path,
        endpoint_url=ENDPOINT,
        bucket="media",
        region="us-east-1",
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET,
        client=client,
    )
    assert isinstance(storage, S3MediaStorage)
    assert (storage.endpoint_url, storage.bucket, storage.region) == (
        ENDPOINT,
        "media",
        "us-east-1",
    )
    await storage.put("a.png", b"x", "image/png")  # signs with the secret it was given
    assert sandbox_of(live).buckets["media"]["a.png"].data == b"x"
    await client.aclose()


def test_build_s3_names_every_missing_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must be set when") as caught:
        build_media_storage(
            backend="s3", home=tmp_path, endpoint_url=ENDPOINT, bucket="media", region=""
        )
    assert str(caught.value) == (
        "FLASHFUSION_S3_REGION, FLASHFUSION_S3_ACCESS_KEY_ID, FLASHFUSION_S3_SECRET_ACCESS_KEY "
        "must be set when FLASHFUSION_MEDIA_BACKEND=s3 (FLASHFUSION_S3_REGION is the bucket's "
        "region: us-east-1 for MinIO, auto for R2)"
    )


def test_build_unknown_backend(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match="FLASHFUSION_MEDIA_BACKEND 'gcs' is not supported: use 'local' or 's3'"
    ):
        build_media_storage(backend="gcs", home=tmp_path)


async def test_s3_request_timeout_code_is_retried() -> None:
    answers = [
        httpx.Response(
            400, content=b"<Error><Code>RequestTimeout</Code><Message>slow</Message></Error>"
        ),
        httpx.Response(200),
    ]

    async with mock_client(lambda request: answers.pop(0)) as http:
        storage, sleeps = make_s3(http)
        await storage.put("a.png", b"x", "image/png")
    assert answers == []
    assert len(sleeps.delays) == 1


async def test_s3_client_errors_are_not_retried() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(403, content=b"<Error><Code>AccessDenied</Code></Error>")

    async with mock_client(handler) as http:
        storage, sleeps = make_s3(http)
        with pytest.raises(MediaStorageError) as caught:
            await storage.put("a.png", b"x", "image/png")
    assert len(calls) == 1
    assert sleeps.delays == []
    assert str(caught.value) == (
        "S3 could not store 'a.png' in bucket 'media': 403 AccessDenied; the access key may not "
        "do this: grant it s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on the "
        "bucket."
    )


async def test_s3_endpoint_prefix_with_escaped_characters() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"ok")

    async with mock_client(handler) as http:
        storage, _ = make_s3(http, endpoint_url="http://gw.example.com/my%20store")
        assert await storage.get("a.png") == b"ok"
    assert seen[0].url.raw_path == b"/my%20store/media/a.png"
