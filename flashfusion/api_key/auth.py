from typing import Annotated

from flashfusion.auth.dependencies import authenticated
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope

APIKeysRead = Annotated[AuthSubject[Subject], authenticated(Scope.api_keys_read)]
APIKeysWrite = Annotated[AuthSubject[Subject], authenticated(Scope.api_keys_write)]
