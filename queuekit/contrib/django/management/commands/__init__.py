"""``queuekit_worker`` and ``queuekit_status``."""
