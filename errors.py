"""Domain errors. Library code raises these; the CLIs print their message on one
line and exit non-zero, so every message says what the user should do next."""


class GhqaError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""

    exit_code = 1


class CorpusNotFound(GhqaError):
    """A corpus path does not exist."""


class CorpusEmpty(GhqaError):
    """No readable document was found in the given paths."""


class UnsupportedDocument(GhqaError):
    """A file cannot be read as a document (wrong type, binary, unreadable)."""


class IndexNotFound(GhqaError):
    """No index has been built at the index directory."""


class IndexBusy(GhqaError):
    """Another build holds the index directory."""


class ManifestMismatch(GhqaError):
    """The index was built with another format, model or settings."""


class ModelUnavailable(GhqaError):
    """The embedding model cannot be loaded (offline and not on disk, or broken)."""


class EmptyQuestion(GhqaError):
    """The question is empty or whitespace only."""


class KbNotFound(GhqaError):
    """No knowledge base has that id."""


class InvalidInput(GhqaError):
    """A name, setting or uploaded file that cannot be accepted as given."""


def exit_on_error(func):
    """Decorate a CLI entry point: a GhqaError becomes one line on stderr and
    a non-zero exit, never a traceback."""
    import functools
    import sys

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except GhqaError as exc:
            print(f"错误：{exc}", file=sys.stderr)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            print("已中断。", file=sys.stderr)
            sys.exit(130)

    return wrapper


class BackendUnavailable(GhqaError):
    """The index backend (a Milvus server or Lite file) cannot be reached now."""
