"""``python -m qsim``: the same command as the ``qsim`` script."""

from qsim.cli import main

if __name__ == "__main__":
    main()
