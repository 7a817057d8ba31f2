"""Signals other apps listen to, so cases need not know them.

``case_changed`` is sent inside the writing transaction after a case is reported and after every
transition (including merges), with ``case``, ``action``, ``old_status`` and ``new_status``.
Receivers run in that transaction: what they write commits or rolls back with the case. The
colour engine (codes) recomputes the colour of the case's subject from it.
"""

from django.dispatch import Signal

case_changed = Signal()
