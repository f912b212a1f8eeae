"""queuekit on Redis: ``redis://``, ``rediss://`` and ``redis+unix://`` broker URLs.

See docs/backends/redis.md for the guarantees, the key layout and the options.
"""

from queuekit_redis.broker import RedisBroker
from queuekit_redis.durability import Fingerprint
from queuekit_redis.epochs import StateReset

__all__ = ["Fingerprint", "RedisBroker", "StateReset"]
