"""The email job steps, called directly (a DBOS step outside a workflow runs as a plain function).

Each step opens its own unit of work, which the harness routes into the test's transaction, and
sends through the configured sender: the file sender (conftest sets FLASHFUSION_EMAIL_BACKEND=file),
so every message lands in `mail_dir`.
"""

import base64
import pickle
import re
import uuid
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.config import get_settings
from flashfusion.email import tasks
from flashfusion.invitation.service import invitation as invitation_service
from flashfusion.kit import encryption
from flashfusion.kit.crypto import sha256_hex
from flashfusion.models import Invitation, Job, Role, User, UserToken, UserTokenPurpose, utc_now
from flashfusion.user.service import InvalidToken
from flashfusion.user.service import user as user_service
from tests.fixtures.objects import DEFAULT_PASSWORD, create_organization, create_user

FROM = "FlashFusion <no-reply@flashfusion.local>"
BASE_URL = "http://testserver"  # FLASHFUSION_BASE_URL in conftest
TOKEN = r"([A-Za-z0-9_-]{20,})"


class Outbox:
    """The messages written into the mail directory since it was opened."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.before = self._files()

    def _files(self) -> set[Path]:
        return set(self.directory.glob("*.eml")) if self.directory.exists() else set()

    def new(self) -> list[Path]:
        return sorted(self._files() - self.before)


@pytest.fixture
def outbox(mail_dir: Path) -> Outbox:
    return Outbox(mail_dir)


def read_mail(path: str | Path) -> EmailMessage:
    parsed = message_from_bytes(Path(path).read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body_of(message: EmailMessage) -> str:
    return str(message.get_content())


async def token_row(session: AsyncSession, user: User, purpose: UserTokenPurpose) -> UserToken:
    """The user's one token of that purpose, as the database has it now (the steps write it
    through their own sessions)."""
    rows = (
        await session.scalars(
            select(UserToken)
            .where(UserToken.user_id == user.id, UserToken.purpose == purpose)
            .execution_options(populate_existing=True)
        )
    ).all()
    assert len(rows) == 1
    return rows[0]


async def job_for(session: AsyncSession, kind: str, argument: str) -> Job:
    jobs = (await session.scalars(select(Job).where(Job.kind == kind))).all()
    matching = [j for j in jobs if j.arguments == [argument]]
    assert len(matching) == 1, [(j.kind, j.arguments) for j in jobs]
    return matching[0]


async def dbos_inputs(session: AsyncSession, workflow_id: str) -> tuple[str, str, object]:
    """The raw stored inputs of a DBOS workflow, its serialization and the decoded value."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    status, inputs = (
        ("workflow_status", "workflow_input")
        if sqlite
        else ("dbos.workflow_status", "dbos.workflow_input")
    )
    row = (
        await session.execute(
            text(
                f"SELECT s.name, s.queue_name, s.status, s.serialization, "
                f"COALESCE(i.inputs, s.inputs) FROM {status} s "
                f"LEFT JOIN {inputs} i ON i.workflow_uuid = s.workflow_uuid "
                "WHERE s.workflow_uuid = :w"
            ),
            {"w": workflow_id},
        )
    ).one()
    name, queue, state, serialization, raw = row
    assert state == "ENQUEUED"
    assert serialization == "py_pickle"
    # Our own rows, just written by DBOS in this transaction: safe to unpickle.
    decoded = pickle.loads(base64.b64decode(raw))  # noqa: S301
    return f"{name}/{queue}", raw, decoded


def assert_secret_absent(secret: str, raw_inputs: str, *places: object) -> None:
    """Neither the stored (base64 pickle) inputs nor any other place holds the secret."""
    assert secret not in raw_inputs
    assert secret.encode() not in base64.b64decode(raw_inputs)
    for place in places:
        assert secret not in str(place)


# --- verification email -----------------------------------------------------------------


async def test_verification_email_link_verifies_the_user(
    session: AsyncSession, outbox: Outbox, mail_dir: Path
) -> None:
    result = await user_service.signup(
        session, email="New.User@Example.com", password=DEFAULT_PASSWORD
    )
    assert result.existed is False
    assert result.user is not None
    user = result.user
    assert user.email == "new.user@example.com"
    assert user.email_verified_at is None
    token = await token_row(session, user, UserTokenPurpose.verify_email)
    assert token.token_encrypted is not None
    assert token.sent_at is None
    before = utc_now()

    where = await tasks._send_user_token(str(token.id))

    assert [Path(where)] == outbox.new()
    assert Path(where).parent == mail_dir
    message = read_mail(where)
    assert message["From"] == FROM
    assert message["To"] == "new.user@example.com"
    assert message["Subject"] == "Confirm your email address"
    assert message["Content-Transfer-Encoding"] == "7bit"
    body = body_of(message)
    match = re.search(rf"^{re.escape(BASE_URL)}/verify-email\?token={TOKEN}$", body, re.M)
    assert match is not None, body
    secret = match.group(1)
    assert body == (
        "Hello,\n\n"
        "Confirm your email address to finish creating your FlashFusion account:\n\n"
        f"{BASE_URL}/verify-email?token={secret}\n\n"
        "The link works once and expires in 24 hours. If you did not sign up, ignore this "
        "email:\nnothing happens without the click.\n\n"
        "-- FlashFusion\n"
    )
    assert sha256_hex(secret) == token.token_hash

    # Sent: the only copy of the secret at rest is wiped and the sending time recorded.
    token = await token_row(session, user, UserTokenPurpose.verify_email)
    assert token.token_encrypted is None
    assert token.sent_at is not None
    assert before <= token.sent_at <= utc_now()
    assert token.used_at is None

    verified = await user_service.verify_email(session, secret)
    assert verified.id == user.id
    assert verified.email_verified_at is not None
    token = await token_row(session, user, UserTokenPurpose.verify_email)
    assert token.used_at is not None
    # The link works once.
    with pytest.raises(InvalidToken):
        await user_service.verify_email(session, secret)


async def test_sending_a_token_email_again_sends_nothing(
    session: AsyncSession, outbox: Outbox
) -> None:
    result = await user_service.signup(
        session, email="twice@example.com", password=DEFAULT_PASSWORD
    )
    assert result.user is not None
    token = await token_row(session, result.user, UserTokenPurpose.verify_email)
    await tasks._send_user_token(str(token.id))
    assert len(outbox.new()) == 1
    sent_at = (await token_row(session, result.user, UserTokenPurpose.verify_email)).sent_at

    # A retried or duplicated job: the secret is gone, so there is nothing left to send.
    assert await tasks._send_user_token(str(token.id)) == "nothing to send"
    assert len(outbox.new()) == 1
    assert (await token_row(session, result.user, UserTokenPurpose.verify_email)).sent_at == sent_at


async def test_token_email_for_a_used_or_missing_token_sends_nothing(
    session: AsyncSession, outbox: Outbox
) -> None:
    result = await user_service.signup(session, email="used@example.com", password=DEFAULT_PASSWORD)
    assert result.user is not None
    token = await token_row(session, result.user, UserTokenPurpose.verify_email)
    token.used_at = utc_now()
    await session.flush()

    assert await tasks._send_user_token(str(token.id)) == "nothing to send"
    assert await tasks._send_user_token(str(uuid.uuid4())) == "nothing to send"
    assert outbox.new() == []
    # Not sent, so not marked sent; the encrypted secret stays until it expires.
    token = await token_row(session, result.user, UserTokenPurpose.verify_email)
    assert token.sent_at is None
    assert token.token_encrypted is not None


async def test_password_reset_email_mentions_the_second_factor(
    session: AsyncSession, outbox: Outbox
) -> None:
    user = await create_user(session, email="reset@example.com", totp_secret="JBSWY3DPEHPK3PXP")
    await user_service.request_password_reset(session, "reset@example.com")
    token = await token_row(session, user, UserTokenPurpose.reset_password)

    message = read_mail(await tasks._send_user_token(str(token.id)))

    assert message["To"] == "reset@example.com"
    assert message["Subject"] == "Reset your FlashFusion password"
    body = body_of(message)
    match = re.search(rf"^{re.escape(BASE_URL)}/reset-password\?token={TOKEN}$", body, re.M)
    assert match is not None, body
    secret = match.group(1)
    assert body == (
        "Hello,\n\n"
        "We received a request to reset the password of your FlashFusion account. Choose a "
        "new password:\n\n"
        f"{BASE_URL}/reset-password?token={secret}\n\n"
        "The link works once and expires in 60 minutes. You will also need a code\n"
        "from your authenticator app (or a recovery code). If you did not ask for this, "
        "ignore\nthis email; your password stays the same.\n\n"
        "-- FlashFusion\n"
    )
    checked = await user_service.check_token(session, secret, UserTokenPurpose.reset_password)
    assert checked.id == user.id
    assert (await token_row(session, user, UserTokenPurpose.reset_password)).token_encrypted is None
    assert len(outbox.new()) == 1


# --- account exists ---------------------------------------------------------------------


async def test_signup_with_a_taken_address_sends_the_account_exists_email(
    session: AsyncSession, outbox: Outbox
) -> None:
    existing = await create_user(session, email="taken@example.com")

    result = await user_service.signup(
        session, email="Taken@Example.com", password="another pw 123"
    )

    assert result.existed is True
    assert result.user is None
    job = await job_for(session, "email.account_exists", str(existing.id))
    assert job.organization_id is None
    # No second account, no verification token for the existing one.
    assert (await session.scalars(select(User).where(User.email == "taken@example.com"))).all() == [
        existing
    ]
    assert (
        await session.scalars(select(UserToken).where(UserToken.user_id == existing.id))
    ).all() == []

    where = await tasks._send_account_exists(str(existing.id))

    assert outbox.new() == [Path(where)]
    message = read_mail(where)
    assert message["From"] == FROM
    assert message["To"] == "taken@example.com"
    assert message["Subject"] == "Sign-up attempt with your email address"
    assert body_of(message) == (
        "Hello,\n\n"
        "Someone (maybe you) tried to create a FlashFusion account with this email address, "
        "which already\nhas an account.\n\n"
        f"If it was you, sign in here: {BASE_URL}/login\n"
        f"Forgot your password? Reset it here: {BASE_URL}/forgot-password\n\n"
        "If it wasn't you, you can ignore this email; your account is unchanged.\n\n"
        "-- FlashFusion\n"
    )


async def test_account_exists_email_for_a_deleted_user_sends_nothing(
    session: AsyncSession, outbox: Outbox
) -> None:
    assert await tasks._send_account_exists(str(uuid.uuid4())) == "nothing to send"
    assert outbox.new() == []


# --- invitations ------------------------------------------------------------------------


async def _invite(
    session: AsyncSession, organization_name: str, email: str
) -> tuple[User, Invitation]:
    owner = await create_user(session, email=f"owner-{uuid.uuid4().hex[:8]}@example.com")
    organization = await create_organization(session, owner=owner, name=organization_name)
    invitation = await invitation_service.create(
        session,
        AuthSubject(owner),
        organization_id=organization.id,
        email=email,
        role=Role.editor,
    )
    return owner, invitation


async def test_invitation_email_goes_to_the_invitee_with_a_working_link(
    session: AsyncSession, outbox: Outbox
) -> None:
    owner, invitation = await _invite(session, "Sunny Paws Apparel", "Invitee@Example.com")
    assert invitation.email == "invitee@example.com"
    before = utc_now()

    where = await tasks._send_invitation(str(invitation.id))

    assert outbox.new() == [Path(where)]
    message = read_mail(where)
    assert message["From"] == FROM
    assert message["To"] == "invitee@example.com"
    assert message["Subject"] == "Join Sunny Paws Apparel on FlashFusion"
    assert message["Content-Transfer-Encoding"] == "7bit"
    body = body_of(message)
    match = re.search(rf"^{re.escape(BASE_URL)}/invitations/accept\?token={TOKEN}$", body, re.M)
    assert match is not None, body
    secret = match.group(1)
    assert body == (
        "Hello,\n\n"
        f'{owner.email} invited you to join the "Sunny Paws Apparel" workspace on FlashFusion '
        "as editor.\n\n"
        "Accept the invitation:\n\n"
        f"{BASE_URL}/invitations/accept?token={secret}\n\n"
        "The invitation expires in 7 days. If you don't have an account yet, you can create one\n"
        "with this email address from that page.\n\n"
        "-- FlashFusion\n"
    )

    found, organization = await invitation_service.get_by_token(session, secret)
    assert found.id == invitation.id
    assert organization.id == invitation.organization_id
    stored = await session.get(Invitation, invitation.id, populate_existing=True)
    assert stored is not None
    assert stored.token_encrypted is None
    assert stored.sent_at is not None
    assert before <= stored.sent_at <= utc_now()

    # Sent once: a second run finds no secret and sends nothing.
    assert await tasks._send_invitation(str(invitation.id)) == "nothing to send"
    assert len(outbox.new()) == 1


async def test_invitation_email_with_a_non_ascii_workspace_name(
    session: AsyncSession, outbox: Outbox
) -> None:
    _, invitation = await _invite(session, "Café Crème", "zoe@example.com")

    message = read_mail(await tasks._send_invitation(str(invitation.id)))

    assert message["Subject"] == "Join Café Crème on FlashFusion"
    assert message["Content-Transfer-Encoding"] == "8bit"
    assert 'join the "Café Crème" workspace' in body_of(message)
    links = re.findall(
        rf"{re.escape(BASE_URL)}/invitations/accept\?token={TOKEN}\n", body_of(message)
    )
    assert len(links) == 1
    found, _ = await invitation_service.get_by_token(session, links[0])
    assert found.id == invitation.id


async def test_revoked_invitation_sends_nothing(session: AsyncSession, outbox: Outbox) -> None:
    owner, invitation = await _invite(session, "Revoked Co", "late@example.com")
    await invitation_service.revoke(session, AuthSubject(owner), invitation)

    assert await tasks._send_invitation(str(invitation.id)) == "nothing to send"
    assert await tasks._send_invitation(str(uuid.uuid4())) == "nothing to send"
    assert outbox.new() == []


# --- secrets never in job inputs --------------------------------------------------------


async def test_verification_secret_is_not_in_job_or_workflow_inputs(
    session: AsyncSession,
) -> None:
    result = await user_service.signup(session, email="ids@example.com", password=DEFAULT_PASSWORD)
    assert result.user is not None
    token = await token_row(session, result.user, UserTokenPurpose.verify_email)
    assert token.token_encrypted is not None
    secret = encryption.decrypt(
        token.token_encrypted, aad=encryption.bound_to("user_tokens", "token_encrypted", token.id)
    )
    assert sha256_hex(secret) == token.token_hash

    job = await job_for(session, "email.user_token", str(token.id))
    assert job.arguments == [str(token.id)]
    assert job.summary == "Verification email"
    assert job.workflow_id == f"email.user_token:{job.id}"
    where, raw, decoded = await dbos_inputs(session, job.workflow_id)
    assert where == "email.user_token/email"
    assert decoded == {"args": (str(token.id),), "kwargs": {}}
    assert_secret_absent(secret, raw, decoded, job.arguments, job.summary)
    # Nor at rest in clear: the row holds a hash and the AES-GCM ciphertext only.
    assert secret.encode() not in token.token_encrypted
    assert token.token_hash != secret


async def test_invitation_secret_is_not_in_job_or_workflow_inputs(session: AsyncSession) -> None:
    _, invitation = await _invite(session, "Inputs Inc", "inputs@example.com")
    assert invitation.token_encrypted is not None
    secret = encryption.decrypt(
        invitation.token_encrypted,
        aad=encryption.bound_to("invitations", "token_encrypted", invitation.id),
    )
    assert sha256_hex(secret) == invitation.token_hash

    job = await job_for(session, "email.invitation", str(invitation.id))
    assert job.organization_id == invitation.organization_id
    assert job.summary == "Invitation email to inputs@example.com"
    where, raw, decoded = await dbos_inputs(session, job.workflow_id)
    assert where == "email.invitation/email"
    assert decoded == {"args": (str(invitation.id),), "kwargs": {}}
    assert_secret_absent(secret, raw, decoded, job.arguments, job.summary)


async def test_settings_used_by_the_templates() -> None:
    # The exact bodies above assume these defaults; fail loudly here if they change.
    settings = get_settings()
    assert settings.BASE_URL == BASE_URL
    assert settings.EMAIL_FROM == FROM
    assert timedelta(seconds=settings.EMAIL_VERIFICATION_TTL_SECONDS) == timedelta(hours=24)
    assert timedelta(seconds=settings.PASSWORD_RESET_TTL_SECONDS) == timedelta(minutes=60)
    assert timedelta(seconds=settings.INVITATION_TTL_SECONDS) == timedelta(days=7)
