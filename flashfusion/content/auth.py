from typing import Annotated

from flashfusion.auth.dependencies import authenticated
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope

ContentRead = Annotated[AuthSubject[Subject], authenticated(Scope.content_read)]
ContentWrite = Annotated[AuthSubject[Subject], authenticated(Scope.content_write)]
