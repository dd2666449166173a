from typing import Annotated

from flashfusion.auth.dependencies import authenticated
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope

AIRead = Annotated[AuthSubject[Subject], authenticated(Scope.ai_read)]
AIWrite = Annotated[AuthSubject[Subject], authenticated(Scope.ai_write)]
