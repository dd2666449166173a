from typing import Annotated

from flashfusion.auth.dependencies import authenticated
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope

ConnectionsRead = Annotated[AuthSubject[Subject], authenticated(Scope.connections_read)]
ConnectionsWrite = Annotated[AuthSubject[Subject], authenticated(Scope.connections_write)]
