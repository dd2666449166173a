"""Email senders: `.eml` files under HOME by default, SMTP for real delivery."""

import smtplib
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

import structlog

from flashfusion.config import EmailBackend, Settings, get_settings

log = structlog.get_logger(__name__)


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> str:
        """Deliver the message; return where it went (path or server)."""


class FileEmailSender:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{uuid.uuid4()}.eml"
        path.write_bytes(bytes(message))
        path.chmod(0o600)
        log.info("email.written", to=message["To"], subject=message["Subject"], path=str(path))
        return str(path)


class SMTPEmailSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, message: EmailMessage) -> str:
        s = self.settings
        with smtplib.SMTP(s.SMTP_HOST, s.SMTP_PORT, timeout=s.SMTP_TIMEOUT_SECONDS) as smtp:
            if s.SMTP_STARTTLS:
                smtp.starttls()
            if s.SMTP_USERNAME and s.SMTP_PASSWORD:
                smtp.login(s.SMTP_USERNAME, s.SMTP_PASSWORD.get_secret_value())
            smtp.send_message(message)
        log.info("email.sent", to=message["To"], subject=message["Subject"], host=s.SMTP_HOST)
        return f"smtp://{s.SMTP_HOST}:{s.SMTP_PORT}"


def get_sender(settings: Settings | None = None) -> EmailSender:
    settings = settings or get_settings()
    if settings.EMAIL_BACKEND == EmailBackend.smtp:
        return SMTPEmailSender(settings)
    return FileEmailSender(settings.home / "mail")


def build_message(
    *, to: str, subject: str, body: str, settings: Settings | None = None
) -> EmailMessage:
    settings = settings or get_settings()
    message = EmailMessage()
    message["From"] = settings.EMAIL_FROM
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="flashfusion.local")
    # 7bit keeps links intact for people and for tests that read the raw message (quoted-printable
    # would split a long link with soft line breaks).
    message.set_content(body, cte="7bit" if body.isascii() else "8bit")
    return message
