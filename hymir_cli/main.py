"""Entry point of the ``hymir`` console script (``hymir_cli.main:main``).

click comes with the ``cli`` extra, not with the core; without it the command says how to get
it instead of failing with an ImportError traceback.
"""

from __future__ import annotations

import sys

try:
    import click  # noqa: F401  (only checked here; the commands use it)
except ModuleNotFoundError:

    def main() -> None:
        """Stand-in for the command group when click is missing: explain how to install it."""
        sys.exit("The hymir command needs click, which comes with the cli extra: pip install 'hymir-workflows[cli]'")

else:
    from hymir_cli.commands import main

__all__ = ["main"]
