"""``python -m experiments.cli``: the ``multivector`` command."""

from experiments.cli import main

raise SystemExit(main())
