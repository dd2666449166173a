"""Durable jobs on DBOS Transact: queues, enqueue-with-the-row, executors, janitor, admin views."""
