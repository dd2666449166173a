from typing import Annotated

from flashfusion.auth.dependencies import authenticated
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope

OrdersRead = Annotated[AuthSubject[Subject], authenticated(Scope.orders_read)]
# An import spends the account's platform quota: the publishing scope, like a publish.
OrdersSync = Annotated[AuthSubject[Subject], authenticated(Scope.publishing_write)]
