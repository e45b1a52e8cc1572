"""``python -m tests.support.run_worker [--once]``: the worker command, without ``cli/main.py``.

Configured by ``PAYDESK_*`` environment variables like the real ``paydesk worker``.
"""

from __future__ import annotations

import typer

from paydesk.cli.jobs import worker_command

if __name__ == "__main__":
    typer.run(worker_command)
