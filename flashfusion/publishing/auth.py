from typing import Annotated

from flashfusion.auth.dependencies import authenticated
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope

PublishingRead = Annotated[AuthSubject[Subject], authenticated(Scope.publishing_read)]
PublishingWrite = Annotated[AuthSubject[Subject], authenticated(Scope.publishing_write)]
