"""The command line: parsing, printing, progress bars and exit codes.

The only layer that may use argparse, print, ``os.environ`` and ``sys.exit``. Holds no
logic the Python API lacks: every command is a thin shell over :class:`creativevault.Vault`.
"""

__all__: list[str] = []
