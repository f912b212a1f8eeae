"""The conformance kit: the contract every queuekit backend must keep, as tests.

* :class:`BrokerContract`: a pytest base class; subclass it with a broker opener.
* :func:`make_state_machine_test`: a Hypothesis state machine holding a model queue
  against the real backend.

Needs pytest and hypothesis (``pip install "queuekit[test]"``); the core never imports it.
See docs/writing-a-backend.md.
"""

import pytest

# Show the values in failed assertions of the kit's own modules, as in test files.
pytest.register_assert_rewrite(
    "queuekit.testing.contract_admin", "queuekit.testing.contract_app", "queuekit.testing.contract_basic",
    "queuekit.testing.contract_capabilities", "queuekit.testing.contract_concurrency",
    "queuekit.testing.contract_control", "queuekit.testing.contract_keyvalue", "queuekit.testing.contract_leases",
    "queuekit.testing.contract_middleware", "queuekit.testing.contract_optional", "queuekit.testing.contract_workflow",
    "queuekit.testing.harness", "queuekit.testing.machine", "queuekit.testing.model",
)

from queuekit.testing.capabilities import SKIP_PREFIX, requires  # noqa: E402
from queuekit.testing.clock import Clock, FakeClock  # noqa: E402
from queuekit.testing.contract import BrokerContract  # noqa: E402
from queuekit.testing.harness import HOLD, BrokerOpener, Harness  # noqa: E402
from queuekit.testing.machine import BrokerMachine, default_settings, make_state_machine_test  # noqa: E402
from queuekit.testing.model import QueueModel  # noqa: E402

__all__ = [
    "HOLD", "SKIP_PREFIX", "BrokerContract", "BrokerMachine", "BrokerOpener", "Clock", "FakeClock", "Harness",
    "QueueModel", "default_settings", "make_state_machine_test", "requires",
]
