"""The two ways a localization step fails: the client's input, or the server itself."""

from __future__ import annotations

from causerie.errors import CauserieError, InvalidRequest


class LocalizeError(InvalidRequest):
    """A corpus, model or option that the pipeline cannot work with (the client's to fix: a 400)."""


class LocalizeFailure(CauserieError):
    """A step that failed on the server (GGUF conversion, export, the serving check): not the client's fault."""

    code = "localize_failed"


class PathNotAllowed(InvalidRequest):
    """A path the API may not read: outside the allowed folders, missing, of the wrong kind — one answer for all."""

    code = "path_not_allowed"


class CorpusExists(CauserieError):
    """An uploaded corpus keeps its name; a new upload takes a new one."""

    status_code = 409
    error_type = "invalid_request_error"
    code = "corpus_exists"
