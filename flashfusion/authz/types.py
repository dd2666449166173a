import uuid
from typing import NewType

# An organization id that came out of authz: the only kind repositories accept for tenancy.
AccessibleOrganizationID = NewType("AccessibleOrganizationID", uuid.UUID)
