"""Every error edge-router raises, in one tree.

Each leaf also subclasses the built-in exception it resembles, so plain
``except ValueError`` / ``except FileNotFoundError`` keeps working. Every
message says what went wrong and how to fix it.

    EdgeRouterError
    ├── InvalidInputError (ValueError)          bad messages, empty prompt, bad option
    │   ├── PromptTooLongError                  prompt + answer exceed the context window
    │   └── PrivacyError                        the privacy policy forbids what the call asks (a cloud)
    ├── ConfigurationError (ValueError)         missing cloud settings, bad threshold
    ├── MissingDependencyError (ImportError)    an optional package is not installed
    ├── ModelFileError                          model files
    │   ├── ModelNotFoundError (FileNotFoundError)
    │   ├── ChecksumMismatchError (ValueError)
    │   ├── CorruptModelError (ValueError)      the file exists but cannot be loaded
    │   ├── OfflineModeError (ConnectionError)  EDGE_ROUTER_OFFLINE=1 and the file is not cached
    │   └── ModelDownloadError (ConnectionError)
    ├── RouterModelError (ValueError)           router file breaks the scoring contract
    ├── LocalModelError (RuntimeError)          llama.cpp failed while answering
    ├── CloudError (ConnectionError)            the cloud API failed
    │   ├── CloudTimeoutError (TimeoutError)
    │   ├── CloudHTTPError                      non-2xx status (after retries)
    │   ├── CloudResponseError                  malformed body or a stream cut short
    │   └── CloudCircuitOpenError               skipped: the cloud failed too often just now
    └── AllRoutesFailedError (RuntimeError)     local and cloud both failed
"""

from __future__ import annotations

import importlib
from typing import Any


class EdgeRouterError(Exception):
    """Base class of every edge-router error."""


class InvalidInputError(EdgeRouterError, ValueError):
    """The caller's input (messages, options) is invalid."""


class PromptTooLongError(InvalidInputError):
    """The prompt plus the requested answer length do not fit the context window."""


class PrivacyError(InvalidInputError):
    """The query holds data the privacy policy keeps on the device, and the call asks for something else."""


class ConfigurationError(EdgeRouterError, ValueError):
    """A setting is missing or invalid."""


class MissingDependencyError(EdgeRouterError, ImportError):
    """An optional package is needed for this feature."""


class ModelFileError(EdgeRouterError):
    """A model file is missing, corrupted or cannot be fetched."""


class ModelNotFoundError(ModelFileError, FileNotFoundError):
    """No such model name or file."""


class ChecksumMismatchError(ModelFileError, ValueError):
    """A file's sha256 differs from the registry's."""


class CorruptModelError(ModelFileError, ValueError):
    """A file exists but its loader rejects it."""


class OfflineModeError(ModelFileError, ConnectionError):
    """A file must be fetched but network access is forbidden."""


class ModelDownloadError(ModelFileError, ConnectionError):
    """Every source of a model failed."""


class RouterModelError(EdgeRouterError, ValueError):
    """A router file does not fit the embedder or the scoring contract."""


class LocalModelError(EdgeRouterError, RuntimeError):
    """The on-device model failed while answering."""


class CloudError(EdgeRouterError, ConnectionError):
    """The cloud chat API could not give an answer."""


class CloudTimeoutError(CloudError, TimeoutError):
    """The cloud API did not answer within the timeout (after retries)."""


class CloudHTTPError(CloudError):
    """The cloud API answered with an error status."""

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


class CloudCircuitOpenError(CloudError):
    """The cloud was not called: it failed several times in a row and is resting (circuit breaker)."""


class CloudResponseError(CloudError):
    """The cloud API's body was malformed, or a stream ended early.

    ``partial_text`` holds what a cut stream had delivered, so nothing is lost.
    """

    def __init__(self, message: str, *, partial_text: str = ""):
        super().__init__(message)
        self.partial_text = partial_text


class AllRoutesFailedError(EdgeRouterError, RuntimeError):
    """Neither the local model nor the cloud could answer."""

    def __init__(self, message: str, *, local_error: BaseException, cloud_error: BaseException):
        super().__init__(message)
        self.local_error = local_error
        self.cloud_error = cloud_error


def require(module: str, install: str) -> Any:
    """``import module``, or a ``MissingDependencyError`` that says what to install (``install``: pip's
    argument, for example ``onnxruntime`` or ``'edge-router[onnx]'``)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(f"{module} is not installed; install it with `pip install {install}`.") from exc
