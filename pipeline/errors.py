"""The project's exception types for errors a user can fix.

Library code raises these with a message a person can act on; only the outermost layer
(the CLIs and the app) turns them into an exit code or an on-screen error.
"""


class SentimentError(Exception):
    """Base class for every error caused by input the user can correct."""


class DataError(SentimentError):
    """The data file is missing, unreadable or unsuitable for training or scoring."""


class ParameterError(SentimentError):
    """A hyperparameter is unknown or outside its allowed range."""


class RegistryError(SentimentError):
    """A model version is unknown, broken, or an operation on it is not allowed."""


class StoreUnavailable(RegistryError):
    """The model store (a URL) cannot be reached, or refuses the credentials."""


class ClusterUnavailable(SentimentError):
    """A compute cluster (Ray) cannot be reached at the address given."""


class StudyUnavailable(SentimentError):
    """A shared sweep's study storage (PostgreSQL, a journal file) is malformed or unreachable,
    or holds no study of that name."""


class RateLimited(SentimentError):
    """Too many attempts or requests; `retry_after` says in how many seconds to try again."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class TrainingCancelled(SentimentError):
    """Training was stopped on request; nothing was saved."""


class JobFailed(SentimentError):
    """A job run elsewhere (a task on a Ray cluster) ended with an error; its message says
    which, and nothing was saved."""


class JobBusy(SentimentError):
    """A training job is already running on this server."""


class RequestError(SentimentError):
    """A REST API request is malformed: bad JSON or form data, a missing or wrong field."""


class RequestTooLarge(RequestError):
    """A REST API request is over a size limit: text length, batch size or body bytes."""


class UnsupportedContentType(RequestError):
    """A REST API request's body is neither JSON nor form data."""


class ExportError(SentimentError):
    """A model cannot be exported where the user asked."""
