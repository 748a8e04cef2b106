"""``python -m hl_notebook._cli``: the same as the ``hl-notebook`` command."""

from .main import main

raise SystemExit(main())
