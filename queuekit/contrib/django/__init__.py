"""Django integration: a backend for Django's tasks framework on any queuekit broker.

Install ``queuekit[django]``, add ``"queuekit.contrib.django"`` to ``INSTALLED_APPS``
(for the ``queuekit_worker`` and ``queuekit_status`` commands and the system checks)
and point ``TASKS`` at :class:`QueuekitBackend`. See ``docs/django.md``.
"""

from queuekit.contrib.django.backend import QueuekitBackend

__all__ = ["QueuekitBackend"]
