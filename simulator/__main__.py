"""``python -m simulator`` runs the ``arsim`` command."""

from .cli import entry

entry()
