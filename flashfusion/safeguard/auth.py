from typing import Annotated

from flashfusion.auth.dependencies import authenticated
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope

SafeguardsRead = Annotated[AuthSubject[Subject], authenticated(Scope.safeguards_read)]
SafeguardsWrite = Annotated[AuthSubject[Subject], authenticated(Scope.safeguards_write)]
