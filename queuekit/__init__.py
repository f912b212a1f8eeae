"""queuekit: background jobs for Python on the broker you choose, by URL.

    from queuekit import App

    app = App("sqlite:///jobs.db")

    @app.task(queue="emails", retries=3)
    def send(to: str) -> str: ...

    send.delay("a@example.org")
"""

from queuekit.app import App
from queuekit.broker import (
    Broker,
    Capabilities,
    DeadLetter,
    Delivery,
    Durability,
    Envelope,
    JobStatus,
    Outcome,
    QueueStats,
    ResultStore,
)
from queuekit.canvas import Signature, Workflow, chain, chord, group
from queuekit.errors import (
    BrokerError,
    CapabilityError,
    ConfigurationError,
    ConnectionLost,
    InvalidQueueName,
    JobFailed,
    MalformedMessage,
    MessageTooLarge,
    QueuekitError,
    ResultUnavailable,
    SerializationError,
    SignatureError,
    TaskNotRegistered,
    TimeLimitExceeded,
    UnknownOption,
    UnknownQueue,
    UnknownSchemeError,
)
from queuekit.execution import current_job
from queuekit.job import Job
from queuekit.message import Message
from queuekit.middleware import Middleware
from queuekit.task import Task, TaskOptions
from queuekit.worker import Worker

__version__ = "0.1.0"

__all__ = [
    "App", "Broker", "BrokerError", "Capabilities", "CapabilityError", "ConfigurationError", "ConnectionLost",
    "DeadLetter", "Delivery", "Durability", "Envelope", "InvalidQueueName", "Job", "JobFailed", "JobStatus",
    "MalformedMessage",
    "Message", "MessageTooLarge", "Middleware", "Outcome", "QueueStats", "QueuekitError", "ResultStore",
    "ResultUnavailable", "SerializationError", "Signature", "SignatureError", "Task", "TaskNotRegistered",
    "TaskOptions", "TimeLimitExceeded", "UnknownOption", "UnknownQueue", "UnknownSchemeError", "Worker", "Workflow",
    "chain", "chord", "current_job", "group", "__version__",
]
