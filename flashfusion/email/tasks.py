"""Email jobs. Inputs are row ids; the secret link is decrypted from the row inside the step,
sent, and then wiped, so no secret ever sits in a job's inputs or in plaintext at rest."""

import asyncio
import uuid
from email.message import EmailMessage

from dbos import DBOS

from flashfusion.config import get_settings
from flashfusion.db import unit_of_work
from flashfusion.email.render import render
from flashfusion.email.sender import build_message, get_sender
from flashfusion.jobs.registry import job
from flashfusion.kit import encryption
from flashfusion.models import Invitation, Organization, User, UserToken, UserTokenPurpose, utc_now


async def _deliver(message: EmailMessage) -> str:
    # SMTP is blocking I/O; keep it off the event loop and outside any database transaction.
    return await asyncio.to_thread(get_sender().send, message)


async def _user_token_message(token_id: str) -> EmailMessage | None:
    settings = get_settings()
    async with unit_of_work() as session:
        token = await session.get(UserToken, uuid.UUID(token_id))
        if token is None or token.token_encrypted is None or token.used_at is not None:
            return None
        user = await session.get(User, token.user_id)
        if user is None:
            return None
        secret = encryption.decrypt(
            token.token_encrypted,
            aad=encryption.bound_to("user_tokens", "token_encrypted", token.id),
        )
        if token.purpose == UserTokenPurpose.verify_email:
            subject = "Confirm your email address"
            body = render(
                "verify_email.txt",
                link=f"{settings.BASE_URL}/verify-email?token={secret}",
                hours=settings.EMAIL_VERIFICATION_TTL_SECONDS // 3600,
            )
        else:
            subject = "Reset your FlashFusion password"
            body = render(
                "reset_password.txt",
                link=f"{settings.BASE_URL}/reset-password?token={secret}",
                minutes=settings.PASSWORD_RESET_TTL_SECONDS // 60,
                has_2fa=user.has_2fa,
            )
        return build_message(to=user.email, subject=subject, body=body)


# One step reads, sends and wipes: the message holds the link, and step outputs are stored, so
# the message never crosses a step boundary. A crash after sending sends it again (at least once).
@DBOS.step(name="email.send_user_token", retries_allowed=True, max_attempts=6, interval_seconds=2.0)
async def _send_user_token(token_id: str) -> str:
    message = await _user_token_message(token_id)
    if message is None:
        return "nothing to send"
    where = await _deliver(message)
    async with unit_of_work() as session:
        token = await session.get(UserToken, uuid.UUID(token_id))
        if token is not None:
            token.token_encrypted = None
            token.sent_at = utc_now()
    return where


@job("email.user_token", label="Account email", queue="email")
async def send_user_token_email(token_id: str) -> str:
    """Email a verification or password-reset link."""
    return await _send_user_token(token_id)


@job("email.account_exists", label="Account email", queue="email")
async def send_account_exists_email(user_id: str) -> str:
    """Tell the owner of an address that someone tried to sign up with it again."""
    return await _send_account_exists(user_id)


@DBOS.step(name="email.send_account_exists", retries_allowed=True, max_attempts=6)
async def _send_account_exists(user_id: str) -> str:
    settings = get_settings()
    async with unit_of_work() as session:
        user = await session.get(User, uuid.UUID(user_id))
        if user is None:
            return "nothing to send"
        to = user.email
    body = render(
        "account_exists.txt",
        login_link=f"{settings.BASE_URL}/login",
        reset_link=f"{settings.BASE_URL}/forgot-password",
    )
    return await _deliver(
        build_message(to=to, subject="Sign-up attempt with your email address", body=body)
    )


@job("email.invitation", label="Invitation email", queue="email")
async def send_invitation_email(invitation_id: str) -> str:
    """Email a workspace invitation link."""
    return await _send_invitation(invitation_id)


@DBOS.step(name="email.send_invitation", retries_allowed=True, max_attempts=6, interval_seconds=2.0)
async def _send_invitation(invitation_id: str) -> str:
    settings = get_settings()
    async with unit_of_work() as session:
        invitation = await session.get(Invitation, uuid.UUID(invitation_id))
        if (
            invitation is None
            or invitation.token_encrypted is None
            or invitation.status != "pending"
        ):
            return "nothing to send"
        organization = await session.get(Organization, invitation.organization_id)
        inviter = (
            await session.get(User, invitation.invited_by_user_id)
            if invitation.invited_by_user_id
            else None
        )
        secret = encryption.decrypt(
            invitation.token_encrypted,
            aad=encryption.bound_to("invitations", "token_encrypted", invitation.id),
        )
        body = render(
            "invitation.txt",
            inviter=inviter.email if inviter else "A workspace admin",
            organization=organization.name if organization else "a workspace",
            role=invitation.role,
            link=f"{settings.BASE_URL}/invitations/accept?token={secret}",
            days=settings.INVITATION_TTL_SECONDS // 86400,
        )
        message = build_message(
            to=invitation.email,
            subject=f"Join {organization.name if organization else 'a workspace'} on FlashFusion",
            body=body,
        )
    where = await _deliver(message)
    async with unit_of_work() as session:
        invitation = await session.get(Invitation, uuid.UUID(invitation_id))
        if invitation is not None:
            invitation.token_encrypted = None
            invitation.sent_at = utc_now()
    return where
