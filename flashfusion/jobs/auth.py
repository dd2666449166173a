from typing import Annotated

from flashfusion.auth.dependencies import authenticated
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope

JobsRead = Annotated[AuthSubject[Subject], authenticated(Scope.jobs_read)]
JobsWrite = Annotated[AuthSubject[Subject], authenticated(Scope.jobs_write)]
