from typing import Annotated

from flashfusion.auth.dependencies import authenticated
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope

MembersRead = Annotated[AuthSubject[Subject], authenticated(Scope.members_read)]
MembersWrite = Annotated[AuthSubject[Subject], authenticated(Scope.members_write)]
