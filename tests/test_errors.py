"""The error tree: every leaf is an EdgeRouterError and the built-in it resembles."""

import edge_router.errors as errors


def test_leaves_subclass_the_builtin_they_resemble():
    expected = {
        errors.InvalidInputError: ValueError,
        errors.PromptTooLongError: ValueError,
        errors.ConfigurationError: ValueError,
        errors.MissingDependencyError: ImportError,
        errors.ModelNotFoundError: FileNotFoundError,
        errors.ChecksumMismatchError: ValueError,
        errors.CorruptModelError: ValueError,
        errors.OfflineModeError: ConnectionError,
        errors.ModelDownloadError: ConnectionError,
        errors.RouterModelError: ValueError,
        errors.LocalModelError: RuntimeError,
        errors.CloudError: ConnectionError,
        errors.CloudTimeoutError: TimeoutError,
        errors.AllRoutesFailedError: RuntimeError,
    }
    for cls, builtin in expected.items():
        assert issubclass(cls, errors.EdgeRouterError), cls
        assert issubclass(cls, builtin), cls


def test_docstring_draws_every_error():
    names = [n for n in dir(errors) if n.endswith("Error") and n != "EdgeRouterError"]
    for name in names:
        assert name in errors.__doc__, name
