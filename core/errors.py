"""User-facing errors shared by the CLI modules (kept apart from ``core.cli`` so that running
``python -m core.cli`` does not create a second, unrelated class)."""


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""
