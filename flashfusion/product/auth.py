from typing import Annotated

from flashfusion.auth.dependencies import authenticated
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope

ProductsRead = Annotated[AuthSubject[Subject], authenticated(Scope.products_read)]
ProductsWrite = Annotated[AuthSubject[Subject], authenticated(Scope.products_write)]
