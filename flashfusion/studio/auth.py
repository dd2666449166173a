from typing import Annotated

from flashfusion.auth.dependencies import authenticated
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope

DesignsRead = Annotated[AuthSubject[Subject], authenticated(Scope.designs_read)]
DesignsWrite = Annotated[AuthSubject[Subject], authenticated(Scope.designs_write)]
