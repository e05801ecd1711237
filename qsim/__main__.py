"""``python -m qsim`` and the ``qsim`` script: the command line, imported only when it runs.

A worker process started by multiprocessing's ``spawn`` method re-runs its parent's main script
(as ``__mp_main__``, without calling ``main``) before its first task. The ``qsim`` script names
this small module rather than :mod:`qsim.cli`, so a worker of ``qsim run --workers 2`` imports
what a replication needs, not the command line's click, rich, yaml and reports.
"""

from typing import Any


def main() -> Any:
    """Run the ``qsim`` command (:func:`qsim.cli.main`) on ``sys.argv``."""
    from qsim.cli import main as command

    return command()


if __name__ == "__main__":
    main()
