"""The job table (transactional outbox), the worker loop and periodic schedules."""
