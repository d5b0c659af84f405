"""``python -m paperboard``: the same as the ``paperboard`` command."""

from paperboard.present.cli.main import run

run()
