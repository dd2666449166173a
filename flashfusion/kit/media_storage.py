"""Media storage behind one interface: a local directory by default, S3-compatible by configuration.

Keys are chosen by the application (never by a user), validated here so that no key can name a
path outside the store: lower-case letters, digits and `/._-`, at most 256 characters, no empty,
`.` or `..` segment and no segment starting with a dot (temporary files use that namespace).

`S3MediaStorage` speaks the S3 REST API directly (path-style URLs, Signature Version 4 from
`flashfusion.kit.sigv4`), so it works unchanged against AWS S3, MinIO, Cloudflare R2 and the
sandbox twin in `flashfusion.sandbox.s3`; only the endpoint URL differs.
"""

import asyncio
import os
import random
import re
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import httpx
import structlog

from flashfusion.kit import sigv4

log = structlog.get_logger(__name__)

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9/._-]{0,255}$")
_BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
FILE_MODE = 0o640
DIR_MODE = 0o750
# Error bodies are a few hundred bytes; anything bigger is not an S3 error document.
_MAX_ERROR_BODY = 64 * 1024


class MediaStorageError(Exception):
    """The store refused or failed an operation; the message says what to do.

    `code` is the S3 error code when the store sent one (`SignatureDoesNotMatch`, `SlowDown`…),
    `status` the HTTP status. Never carries a secret.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retryable = retryable


class MediaNotFound(MediaStorageError, LookupError):
    """Nothing is stored under the key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"No media is stored under key {key!r}.", code="NoSuchKey", status=404)
        self.key = key


class InvalidMediaKey(ValueError):
    """A key that could escape the store or that S3 and a file system would treat differently."""


def validate_key(key: str) -> str:
    """Return `key` if it is a safe storage key; raise InvalidMediaKey saying why otherwise."""
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise InvalidMediaKey(
            f"media key {key!r} is invalid: use 1-256 characters from a-z 0-9 / . _ -, "
            "starting with a letter or digit"
        )
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidMediaKey(
                f"media key {key!r} is invalid: it has an empty, '.' or '..' path segment"
            )
        if segment.startswith("."):
            raise InvalidMediaKey(
                f"media key {key!r} is invalid: a path segment may not start with '.'"
            )
    return key


@runtime_checkable
class MediaStorage(Protocol):
    """Where uploaded images, print files and mockups are kept. Every method validates the key."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing what was there; readers never see a partial write."""
        ...

    async def get(self, key: str) -> bytes:
        """The stored bytes; MediaNotFound when nothing is stored under `key`."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`; deleting a missing key is not an error."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether something is stored under `key`."""
        ...


def _validate_content_type(content_type: str) -> str:
    if not content_type or any(ch in content_type for ch in "\r\n\x00"):
        raise ValueError(
            f"content_type {content_type!r} is invalid: give a MIME type such as image/png"
        )
    return content_type


# --------------------------------------------------------------------------- local directory


class LocalMediaStorage:
    """Files under `root` (by default `FLASHFUSION_HOME/media`), one file per key.

    Writes go to a temporary file in the target directory, are fsynced and then renamed over the
    target with `os.replace`, so a reader sees the old bytes or the new ones, never a mix. Files
    are created 0640 and directories 0750. The content type is not kept: the database row that
    owns the key records it.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, key: str) -> Path:
        """The file that holds `key` (validated; never outside `root`, even through symlinks)."""
        validate_key(key)
        path = self.root / key
        root = self.root.resolve()
        if not path.resolve().is_relative_to(root):
            raise InvalidMediaKey(f"media key {key!r} resolves outside the media directory")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` atomically (temporary file + fsync + `os.replace`)."""
        path = self.path_for(key)
        _validate_content_type(content_type)
        try:
            await asyncio.to_thread(_write_atomically, path, data)
        except OSError as exc:
            raise MediaStorageError(
                f"Could not write media {key!r} under {self.root}: {exc.strerror or exc}. "
                "Check that FLASHFUSION_HOME is writable and the disk has space."
            ) from exc

    async def get(self, key: str) -> bytes:
        """The file's bytes; MediaNotFound when it does not exist."""
        path = self.path_for(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise MediaNotFound(key) from exc
        except OSError as exc:
            raise MediaStorageError(
                f"Could not read media {key!r} under {self.root}: {exc.strerror or exc}. "
                "Check the permissions of FLASHFUSION_HOME."
            ) from exc

    async def delete(self, key: str) -> None:
        """Remove the file if it exists."""
        path = self.path_for(key)
        try:
            await asyncio.to_thread(_unlink_file, path)
        except OSError as exc:
            raise MediaStorageError(
                f"Could not delete media {key!r} under {self.root}: {exc.strerror or exc}. "
                "Check the permissions of FLASHFUSION_HOME."
            ) from exc

    async def exists(self, key: str) -> bool:
        """Whether a regular file is stored under the key."""
        path = self.path_for(key)
        return await asyncio.to_thread(path.is_file)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    # The leading dot keeps temporary names outside the key namespace (keys can't start a
    # segment with '.'), so a concurrent reader can never open one by key.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, FILE_MODE)
        os.replace(tmp_name, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    # Persist the rename itself; without this a crash can lose a write that already returned.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _unlink_file(path: Path) -> None:
    if path.is_dir():
        return  # a key prefix, not a stored object: nothing to delete
    with suppress(FileNotFoundError, NotADirectoryError):
        path.unlink()


# --------------------------------------------------------------------------- S3-compatible

# What to do about each S3 error code, in the words of the setting to change.
_ADVICE: dict[str, str] = {
    "SignatureDoesNotMatch": (
        "check FLASHFUSION_S3_SECRET_ACCESS_KEY (it must be the secret of "
        "FLASHFUSION_S3_ACCESS_KEY_ID) and FLASHFUSION_S3_REGION"
    ),
    "InvalidAccessKeyId": "check FLASHFUSION_S3_ACCESS_KEY_ID: the store does not know that key",
    "AccessDenied": (
        "the access key may not do this: grant it s3:GetObject, s3:PutObject, s3:DeleteObject "
        "and s3:ListBucket on the bucket"
    ),
    "NoSuchBucket": "create the bucket or fix FLASHFUSION_S3_BUCKET",
    "AuthorizationHeaderMalformed": "check FLASHFUSION_S3_REGION (it must be the bucket's region)",
    "PermanentRedirect": (
        "the bucket lives behind another endpoint: set FLASHFUSION_S3_ENDPOINT_URL and "
        "FLASHFUSION_S3_REGION to the bucket's region"
    ),
    "RequestTimeTooSkewed": (
        "this machine's clock differs from the store's by more than 15 minutes: sync it (NTP)"
    ),
    "XAmzContentSHA256Mismatch": "the body changed in transit; retry the upload",
    "EntityTooLarge": "the object is larger than the store accepts",
}
_RETRYABLE_CODES = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"})
_RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


def _parse_error(body: bytes) -> tuple[str | None, str | None, str | None]:
    """(Code, Message, Endpoint) from an S3 `<Error>` document; Nones when it is not one."""
    if not body or len(body) > _MAX_ERROR_BODY or b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return None, None, None  # refuse DTDs outright: an error body never needs one
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None, None, None
    if root.tag.rsplit("}", 1)[-1] != "Error":
        return None, None, None

    def text(name: str) -> str | None:
        for child in root:
            if child.tag.rsplit("}", 1)[-1] == name:
                return (child.text or "").strip() or None
        return None

    return text("Code"), text("Message"), text("Endpoint")


class S3MediaStorage:
    """Objects in one bucket of an S3-compatible store, addressed path-style (`/bucket/key`).

    Requests are signed with SigV4 (payload hash signed, not `UNSIGNED-PAYLOAD`), time out after
    `timeout` seconds, and are retried with exponential backoff and full jitter on 5xx, `SlowDown`
    and network errors, at most `max_attempts` times in all. Pass `client` to share a connection
    pool (or an `httpx.ASGITransport` in tests); otherwise the storage owns one — close it with
    `aclose()` or `async with`.
    """

    def __init__(
        self,
        endpoint_url: str,
        bucket: str,
        region: str,
        access_key_id: str,
        secret_access_key: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        max_attempts: int = 4,
        backoff_base: float = 0.2,
        backoff_cap: float = 5.0,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        url = httpx.URL(endpoint_url)
        if url.userinfo:
            # Not echoed: the user-info part is a credential.
            raise ValueError(
                "FLASHFUSION_S3_ENDPOINT_URL must not contain user:password@; put the keys in "
                "FLASHFUSION_S3_ACCESS_KEY_ID and FLASHFUSION_S3_SECRET_ACCESS_KEY"
            )
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(
                f"FLASHFUSION_S3_ENDPOINT_URL {endpoint_url!r} is invalid: give an http(s) URL "
                "such as https://s3.us-east-1.amazonaws.com or http://localhost:9000"
            )
        if url.query or url.fragment:
            raise ValueError(
                "FLASHFUSION_S3_ENDPOINT_URL must not have a query or fragment; "
                "give only scheme, host, port and (optionally) a path prefix"
            )
        if not _BUCKET_PATTERN.match(bucket):
            raise ValueError(
                f"FLASHFUSION_S3_BUCKET {bucket!r} is not a valid bucket name: use 3-63 "
                "characters from a-z 0-9 . -, starting and ending with a letter or digit"
            )
        if not region:
            raise ValueError("FLASHFUSION_S3_REGION is empty: use the bucket's region")
        if not access_key_id:
            raise ValueError("FLASHFUSION_S3_ACCESS_KEY_ID is empty")
        if not secret_access_key:
            raise ValueError("FLASHFUSION_S3_SECRET_ACCESS_KEY is empty")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.endpoint_url = str(url).rstrip("/")
        self._origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        self._prefix = url.path.rstrip("/")
        self.bucket = bucket
        self.region = region
        self.access_key_id = access_key_id
        self.__secret = secret_access_key  # private, and left out of __repr__ and every message
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep or asyncio.sleep
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout)

    def __repr__(self) -> str:
        return (
            f"S3MediaStorage(endpoint_url={self.endpoint_url!r}, bucket={self.bucket!r}, "
            f"region={self.region!r}, access_key_id={self.access_key_id!r})"
        )

    async def aclose(self) -> None:
        """Close the HTTP client if this storage created it."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """PUT Object."""
        validate_key(key)
        _validate_content_type(content_type)
        response = await self._request("PUT", key, body=data, content_type=content_type)
        if response.status_code != 200:
            raise self._error(response, "store", key)

    async def get(self, key: str) -> bytes:
        """GET Object; MediaNotFound on 404 NoSuchKey."""
        validate_key(key)
        response = await self._request("GET", key)
        if response.status_code == 200:
            return response.content
        raise self._error(response, "read", key)

    async def delete(self, key: str) -> None:
        """DELETE Object (S3 answers 204 whether or not the key existed)."""
        validate_key(key)
        response = await self._request("DELETE", key)
        if response.status_code in (200, 204):
            return
        error = self._error(response, "delete", key)
        if isinstance(error, MediaNotFound):
            return  # some S3-compatible stores answer 404 for a missing key: already gone
        raise error

    async def exists(self, key: str) -> bool:
        """HEAD Object: True on 200, False on 404."""
        validate_key(key)
        response = await self._request("HEAD", key)
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        raise self._error(response, "check", key)

    async def _request(
        self, method: str, key: str, *, body: bytes = b"", content_type: str | None = None
    ) -> httpx.Response:
        path = f"{self._prefix}/{self.bucket}/{key}"
        url = self._origin + sigv4.canonical_uri(path)
        payload_hash = sigv4.sha256_hex(body)
        attempt = 0
        while True:
            attempt += 1
            headers = {"x-amz-content-sha256": payload_hash}
            if content_type is not None:
                headers["content-type"] = content_type
            request = self._client.build_request(
                method,
                url,
                content=body if method == "PUT" else None,
                headers=headers,
                timeout=self.timeout,
            )
            # Sign what httpx will actually send: its Host header (port included when not the
            # scheme's default) and its encoded path.
            signed = sigv4.sign(
                method=method,
                host=request.headers["host"],
                path=path,
                headers=headers,
                payload_hash=payload_hash,
                access_key_id=self.access_key_id,
                secret_access_key=self.__secret,
                region=self.region,
                service="s3",
                when=self._clock(),
            )
            request.headers.update(signed.headers)
            try:
                response = await self._client.send(request)
            except httpx.TransportError as exc:
                if attempt >= self.max_attempts:
                    raise MediaStorageError(
                        f"Could not reach the S3 store at {self.endpoint_url} after {attempt} "
                        f"attempts ({type(exc).__name__}). Check FLASHFUSION_S3_ENDPOINT_URL "
                        "and the network.",
                        retryable=True,
                    ) from exc
                await self._backoff(attempt, method, key, reason=type(exc).__name__)
                continue
            if response.status_code >= 400 and attempt < self.max_attempts:
                code, _, _ = _parse_error(response.content)
                if response.status_code in _RETRYABLE_STATUSES or code in _RETRYABLE_CODES:
                    reason = code or str(response.status_code)
                    await self._backoff(attempt, method, key, reason=reason)
                    continue
            return response

    async def _backoff(self, attempt: int, method: str, key: str, *, reason: str) -> None:
        delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))
        log.warning(
            "media_storage.s3.retry",
            method=method,
            key=key,
            attempt=attempt,
            reason=reason,
            delay_s=round(delay, 3),
        )
        await self._sleep(delay)

    def _error(self, response: httpx.Response, action: str, key: str) -> MediaStorageError:
        status = response.status_code
        code, message, endpoint = _parse_error(response.content)
        if code is None and status == 404 and response.request.method in ("HEAD", "GET"):
            code = "NoSuchKey"
        if code == "NoSuchKey":
            return MediaNotFound(key)
        if code is None and response.request.method == "HEAD" and status == 403:
            # HEAD answers carry no body, so S3 cannot say which 403 this is.
            advice = (
                "check FLASHFUSION_S3_ACCESS_KEY_ID, FLASHFUSION_S3_SECRET_ACCESS_KEY and the "
                "key's permissions (without s3:ListBucket S3 answers 403 for a missing key)"
            )
        else:
            advice = _ADVICE.get(code or "", "")
        if code == "PermanentRedirect" and endpoint:
            advice += f" (S3 says the bucket's endpoint is {endpoint})"
        retryable = status in _RETRYABLE_STATUSES or code in _RETRYABLE_CODES
        if retryable and not advice:
            advice = (
                f"the store is failing or throttling; gave up after {self.max_attempts} attempts"
            )
        parts = [f"S3 could not {action} {key!r} in bucket {self.bucket!r}: {status}"]
        if code:
            parts.append(f" {code}")
        if message:
            parts.append(f" ({message})")
        text = "".join(parts) + (f"; {advice}." if advice else ".")
        return MediaStorageError(text, code=code, status=status, retryable=retryable)


def build_media_storage(
    *,
    backend: str,
    home: Path,
    endpoint_url: str | None = None,
    bucket: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    client: httpx.AsyncClient | None = None,
) -> MediaStorage:
    """The storage the settings ask for: `local` (HOME/media) or `s3` (every FLASHFUSION_S3_*).

    Raises ValueError naming the setting to fix.
    """
    if backend == "local":
        return LocalMediaStorage(Path(home) / "media")
    if backend != "s3":
        raise ValueError(
            f"FLASHFUSION_MEDIA_BACKEND {backend!r} is not supported: use 'local' or 's3'"
        )
    settings = {
        "FLASHFUSION_S3_ENDPOINT_URL": endpoint_url or "",
        "FLASHFUSION_S3_BUCKET": bucket or "",
        "FLASHFUSION_S3_REGION": region or "",
        "FLASHFUSION_S3_ACCESS_KEY_ID": access_key_id or "",
        "FLASHFUSION_S3_SECRET_ACCESS_KEY": secret_access_key or "",
    }
    missing = [name for name, value in settings.items() if not value]
    if missing:
        raise ValueError(
            f"{', '.join(missing)} must be set when FLASHFUSION_MEDIA_BACKEND=s3 "
            "(FLASHFUSION_S3_REGION is the bucket's region: us-east-1 for MinIO, auto for R2)"
        )
    return S3MediaStorage(
        settings["FLASHFUSION_S3_ENDPOINT_URL"],
        settings["FLASHFUSION_S3_BUCKET"],
        settings["FLASHFUSION_S3_REGION"],
        settings["FLASHFUSION_S3_ACCESS_KEY_ID"],
        settings["FLASHFUSION_S3_SECRET_ACCESS_KEY"],
        client=client,
    )
