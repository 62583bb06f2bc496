"""The ``hymir`` command: validate, draw, run and deploy workflows from the shell.

A separate package so the core (``hymir/``) stays free of click; install it with
``pip install 'hymir-workflows[cli]'``. The entry point is ``hymir_cli.main:main``.
"""
