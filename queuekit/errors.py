"""One family of errors: catch :class:`QueuekitError`, or one precise subclass.

Every message names the thing at fault and, where there is one, what to do about it.
Broker URLs that appear in messages are always redacted first.
"""

from __future__ import annotations


class QueuekitError(Exception):
    """Root of every error queuekit raises on purpose."""


class ConfigurationError(QueuekitError):
    """The app, a URL or a setting is wrong; nothing was sent anywhere."""


class UnknownSchemeError(ConfigurationError):
    """A broker URL names a scheme that no installed backend registers."""


class UnknownOption(ConfigurationError):
    """A broker URL or ``broker_options`` names an option the backend does not know."""


class InvalidQueueName(ConfigurationError, ValueError):
    """A queue name breaks the rule (1-128 letters, digits, ``_``, ``.``, ``:`` or ``-``)."""


UnknownQueue = InvalidQueueName
"""Former name of :class:`InvalidQueueName` (it was a broker error; a bad name is an input mistake)."""


class SerializationError(QueuekitError):
    """Arguments or a result cannot be encoded as JSON (or the chosen serializer)."""


class MessageTooLarge(QueuekitError, ValueError):
    """An encoded message exceeds the configured size limit."""


class MalformedMessage(QueuekitError):
    """A message body cannot be decoded into a valid envelope."""


class SignatureError(MalformedMessage):
    """A message's HMAC signature is missing, unknown or does not match."""


class TaskNotRegistered(QueuekitError, LookupError):
    """A task name is not registered on the app."""


class BrokerError(QueuekitError):
    """A backend failed to carry out an operation."""


class ConnectionLost(BrokerError, ConnectionError):
    """The connection to the broker failed or was reset; the operation may not have happened."""


class CapabilityError(BrokerError):
    """The operation needs a capability the backend does not declare (for example delays)."""


class JobFailed(QueuekitError):
    """A job ended without a result: it failed on its last attempt or was dead-lettered."""

    def __init__(self, job_id: str, status: str, error: str) -> None:
        super().__init__(f"job {job_id} ended {status}: {error}")
        self.job_id = job_id
        self.status = status
        self.error = error


class ResultUnavailable(QueuekitError):
    """No result store is configured that can answer for this job."""


class TimeLimitExceeded(QueuekitError):
    """A task ran past its time limit and was interrupted."""
