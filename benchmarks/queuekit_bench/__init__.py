"""queuekit_bench: the harness behind ``queuekit bench``.

It drives only queuekit's public API and the Broker protocol, so it measures every
backend the same way, by URL, each beside the raw client on the same server.
"""

__version__ = "0.1.0"

SCHEMA = "queuekit-bench/results"
SCHEMA_VERSION = 1
