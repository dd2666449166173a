"""The errors a creator sees when connecting or changing a connection (each message names the
field or says what to do), and the translation of a platform failure during a connect."""

from flashfusion.connector.base import ConnectorError, RetryableConnectorError
from flashfusion.exceptions import AppError, BadRequest, Conflict, UnprocessableEntity


class InvalidConnectionInput(UnprocessableEntity):
    """A field of the request is missing or invalid; the message names it."""


class CredentialsRejected(UnprocessableEntity):
    """The platform refused the credentials; the message says what to do."""


class PlatformUnavailable(AppError):
    """The platform could not be reached or had a temporary problem; try again."""

    status_code = 503


class InvalidOAuthState(BadRequest):
    """The OAuth `state` is unknown, expired or already used; start the connection again."""


class WrongAccount(Conflict):
    """The reconnect authorized another account than the one this connection is for."""


class InvalidLink(UnprocessableEntity):
    """The connection cannot be linked to that one (platform, workspace or mode)."""


class InvalidConnectionSetting(UnprocessableEntity):
    """A listing default is unknown or has a value the platform does not accept; the message
    names the field and the values it takes."""


def translated(error: ConnectorError) -> AppError:
    """A platform failure during a connect, as the error the creator sees."""
    said = f" (the platform said: {error.platform_message})" if error.platform_message else ""
    if isinstance(error, RetryableConnectorError):
        return PlatformUnavailable(f"{error.action}{said}")
    return CredentialsRejected(f"{error.action}{said}")
