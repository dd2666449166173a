from typing import Annotated

from flashfusion.auth.dependencies import authenticated
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope

AuditRead = Annotated[AuthSubject[Subject], authenticated(Scope.audit_read)]
