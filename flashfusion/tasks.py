"""Importing this module registers every job kind with DBOS (before launch)."""

from flashfusion.audit import tasks as audit_tasks
from flashfusion.connector import tasks as connector_tasks
from flashfusion.content import tasks as content_tasks
from flashfusion.email import tasks as email_tasks
from flashfusion.external_event import tasks as external_event_tasks
from flashfusion.jobs import tasks as jobs_tasks
from flashfusion.order import tasks as order_tasks
from flashfusion.publishing import tasks as publishing_tasks
from flashfusion.safeguard import tasks as safeguard_tasks
from flashfusion.safeguard.trademark import tasks as trademark_tasks
from flashfusion.studio import tasks as studio_tasks

__all__ = [
    "audit_tasks",
    "connector_tasks",
    "content_tasks",
    "email_tasks",
    "external_event_tasks",
    "jobs_tasks",
    "order_tasks",
    "publishing_tasks",
    "safeguard_tasks",
    "studio_tasks",
    "trademark_tasks",
]
