"""The job functions the tests run, one module per kind of test that uses them.

``scenario`` holds the jobs every engine runs (the semantics and parity scenarios); the others
add what only their tests need (``core``, ``adapter``, ``cli``, ``deploy``, ``reliability``,
``redaction``, ``parity``, ``hymir_019``, ``mapping``, ``map_parity``). A job's dotted name
(``tests.jobs.core.produce``) is part of what tests assert, so functions move between modules only
with their expectations.
"""
