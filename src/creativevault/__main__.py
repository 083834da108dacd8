"""``python -m creativevault`` is the ``cvault`` command."""

from creativevault.cli.main import main

raise SystemExit(main())
