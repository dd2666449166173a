"""The authenticated subject of a request."""

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from flashfusion.auth.scope import Scope
from flashfusion.models import APIKey, Role, User, UserSession


class Anonymous:
    """No credentials were presented."""


Subject = User | APIKey | Anonymous
S = TypeVar("S", bound=User | APIKey | Anonymous, covariant=True)


@dataclass
class AuthSubject(Generic[S]):
    subject: S
    scopes: frozenset[Scope] = field(default_factory=frozenset)
    # Browser session that authenticated a user, if any.
    session: UserSession | None = None
    # For API keys: the current role of the member who created the key.
    api_key_role: Role | None = None

    @property
    def label(self) -> str:
        subject = self.subject
        if isinstance(subject, User):
            return subject.email
        if isinstance(subject, APIKey):
            return f"API key {subject.name} ({subject.display_prefix}…)"
        return "anonymous"
