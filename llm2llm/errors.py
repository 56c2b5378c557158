"""User-facing errors: each one is printed as a single line and exits non-zero."""


class Llm2llmError(Exception):
    """Base class for errors caused by bad input (config, data, paths), not by bugs."""


class ConfigError(Llm2llmError):
    """The composed configuration cannot work."""


class DataError(Llm2llmError):
    """A data file is missing, unreadable or malformed."""
