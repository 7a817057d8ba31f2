"""Signals other apps listen to, so the registry need not know them.

``registry_changed`` is sent inside the writing transaction after a registry object is created or
updated (``instance``, ``created``); the colour engine (codes) recomputes from it.
"""

from django.dispatch import Signal

registry_changed = Signal()
