"""``python -m paydesk`` is the ``paydesk`` command."""

from paydesk.cli.main import main

main()
