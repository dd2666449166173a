"""Email senders against a real SMTP server (aiosmtpd) and the file system."""

import email.utils
import smtplib
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from flashfusion.config import EmailBackend, Settings
from flashfusion.email.sender import (
    FileEmailSender,
    SMTPEmailSender,
    build_message,
    get_sender,
)
from tests.fixtures.processes import free_port
from tests.fixtures.smtp import SMTPServer, running_smtp_server

FROM = "FlashFusion <no-reply@flashfusion.local>"
# Long enough that quoted-printable would wrap it, and full of '=' that QP would turn into =3D.
LINK = "http://127.0.0.1:8000/verify-email?token=" + "Ab-_9xYz=" * 12 + "end"
BODY = f"Hello,\n\nConfirm your email address:\n\n{LINK}\n\n-- FlashFusion\n"
HEADERS = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
]


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    with running_smtp_server() as server:
        yield server


def smtp_settings(tmp_path: Path, server_port: int, **extra: object) -> Settings:
    return Settings(
        HOME=tmp_path,
        EMAIL_BACKEND=EmailBackend.smtp,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=server_port,
        SMTP_TIMEOUT_SECONDS=5.0,
        **extra,  # type: ignore[arg-type]
    )


def test_smtp_sender_delivers_the_exact_message_in_7bit(
    smtp_server: SMTPServer, tmp_path: Path
) -> None:
    settings = smtp_settings(tmp_path, smtp_server.port)
    message = build_message(
        to="new.user@example.com",
        subject="Confirm your email address",
        body=BODY,
        settings=settings,
    )

    where = SMTPEmailSender(settings).send(message)

    assert where == f"smtp://127.0.0.1:{smtp_server.port}"
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received.mail_from == "no-reply@flashfusion.local"
    assert received.rcpt_tos == ("new.user@example.com",)
    assert received.login is None
    got = received.message
    assert list(got.keys()) == HEADERS
    assert got["From"] == FROM
    assert got["To"] == "new.user@example.com"
    assert got["Subject"] == "Confirm your email address"
    assert got["Date"] == message["Date"]
    assert got["Message-ID"] == message["Message-ID"]
    assert got["Content-Type"] == 'text/plain; charset="utf-8"'
    assert got["Content-Transfer-Encoding"] == "7bit"
    assert got["MIME-Version"] == "1.0"
    assert received.body == BODY
    # On the wire the link is one unbroken line: no soft line breaks, no =3D escapes.
    assert f"\r\n{LINK}\r\n".encode() in received.raw
    assert b"=3D" not in received.raw
    assert b"=\r\n" not in received.raw
    assert received.links() == [LINK]


def test_smtp_sender_sends_non_ascii_text_as_8bit_utf8(
    smtp_server: SMTPServer, tmp_path: Path
) -> None:
    settings = smtp_settings(tmp_path, smtp_server.port)
    body = f"Bienvenue chez « Café Crème » !\n\n{LINK}\n"
    message = build_message(
        to="zoe@example.com", subject="Rejoignez Café Crème", body=body, settings=settings
    )

    SMTPEmailSender(settings).send(message)

    received = smtp_server.wait_for_recipient("zoe@example.com", timeout=5)
    assert received.message["Content-Transfer-Encoding"] == "8bit"
    assert received.message["Subject"] == "Rejoignez Café Crème"
    # The header is RFC 2047 encoded on the wire; the body is raw UTF-8 bytes.
    assert b"\r\nSubject: Rejoignez =?utf-8?q?Caf=C3=A9_Cr=C3=A8me?=\r\n" in received.raw
    assert "« Café Crème »".encode() in received.raw
    assert f"\r\n{LINK}\r\n".encode() in received.raw
    assert received.body == body


# aiosmtpd warns about AUTH without TLS; this server listens on loopback only.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_smtp_sender_logs_in_when_credentials_are_set(tmp_path: Path) -> None:
    with running_smtp_server(credentials=("mailer", "s3cret-pass")) as server:
        settings = smtp_settings(
            tmp_path, server.port, SMTP_USERNAME="mailer", SMTP_PASSWORD="s3cret-pass"
        )
        SMTPEmailSender(settings).send(
            build_message(to="a@example.com", subject="Hi", body="Hello\n", settings=settings)
        )
        received = server.wait_for_recipient("a@example.com", timeout=5)
        assert received.login == "mailer"

        wrong = smtp_settings(tmp_path, server.port, SMTP_USERNAME="mailer", SMTP_PASSWORD="nope")
        with pytest.raises(smtplib.SMTPAuthenticationError):
            SMTPEmailSender(wrong).send(
                build_message(to="b@example.com", subject="Hi", body="Hello\n", settings=wrong)
            )
        # Without credentials the server refuses the mail (it requires AUTH).
        anonymous = smtp_settings(tmp_path, server.port)
        with pytest.raises(smtplib.SMTPSenderRefused):
            SMTPEmailSender(anonymous).send(
                build_message(to="c@example.com", subject="Hi", body="Hello\n", settings=anonymous)
            )
        assert [m.rcpt_tos for m in server.messages] == [("a@example.com",)]


def test_smtp_sender_raises_when_the_server_is_down(tmp_path: Path) -> None:
    # The error propagates so that the job step retries; nothing pretends the mail went out.
    settings = smtp_settings(tmp_path, free_port())
    message = build_message(to="a@example.com", subject="Hi", body="Hello\n", settings=settings)
    with pytest.raises(ConnectionRefusedError):
        SMTPEmailSender(settings).send(message)


def test_file_sender_writes_a_private_eml_file(tmp_path: Path) -> None:
    directory = tmp_path / "not-yet" / "mail"
    settings = Settings(HOME=tmp_path)
    message = build_message(
        to="new.user@example.com",
        subject="Confirm your email address",
        body=BODY,
        settings=settings,
    )

    where = FileEmailSender(directory).send(message)

    path = Path(where)
    assert path.parent == directory
    assert path.suffix == ".eml"
    uuid.UUID(path.stem)  # a random name: no address or subject in the file name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == bytes(message)
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["To"] == "new.user@example.com"
    assert parsed["Content-Transfer-Encoding"] == "7bit"
    assert parsed.get_content() == BODY
    assert f"\n{LINK}\n".encode() in path.read_bytes()

    second = FileEmailSender(directory).send(message)
    assert second != where
    assert sorted(p.name for p in directory.iterdir()) == sorted([path.name, Path(second).name])


def test_get_sender_follows_the_email_backend(tmp_path: Path) -> None:
    file_sender = get_sender(Settings(HOME=tmp_path, EMAIL_BACKEND=EmailBackend.file))
    assert isinstance(file_sender, FileEmailSender)
    assert file_sender.directory == tmp_path / "mail"

    smtp_settings_ = smtp_settings(tmp_path, 2525)
    smtp_sender = get_sender(smtp_settings_)
    assert isinstance(smtp_sender, SMTPEmailSender)
    assert smtp_sender.settings is smtp_settings_


def test_build_message_headers(tmp_path: Path) -> None:
    settings = Settings(HOME=tmp_path, EMAIL_FROM="Team <team@shop.example>")
    before = datetime.now(UTC).replace(microsecond=0)

    message = build_message(
        to="a@example.com", subject="Hello there", body="Hi\n", settings=settings
    )
    other = build_message(to="a@example.com", subject="Hello there", body="Hi\n", settings=settings)

    assert list(message.keys()) == HEADERS
    assert message["From"] == "Team <team@shop.example>"
    assert message["To"] == "a@example.com"
    assert message["Subject"] == "Hello there"
    # RFC 5322 date in UTC ("+0000"; "-0000" would mean "zone unknown").
    assert message["Date"].endswith(" +0000")
    sent_at = email.utils.parsedate_to_datetime(message["Date"])
    assert sent_at.utcoffset() == timedelta(0)
    assert before.replace(microsecond=0) <= sent_at <= datetime.now(UTC)
    assert message["Message-ID"].startswith("<")
    assert message["Message-ID"].endswith("@flashfusion.local>")
    assert message["Message-ID"] != other["Message-ID"]
    assert message["Content-Type"] == 'text/plain; charset="utf-8"'
    assert message["Content-Transfer-Encoding"] == "7bit"
    assert message.get_content() == "Hi\n"

    non_ascii = build_message(
        to="a@example.com", subject="Ça va", body="Déjà vu\n", settings=settings
    )
    assert non_ascii["Content-Transfer-Encoding"] == "8bit"
    assert non_ascii.get_content() == "Déjà vu\n"
