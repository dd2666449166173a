from typing import Annotated

from flashfusion.auth.dependencies import authenticated
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope

OrganizationsRead = Annotated[AuthSubject[Subject], authenticated(Scope.organizations_read)]
OrganizationsWrite = Annotated[AuthSubject[Subject], authenticated(Scope.organizations_write)]
