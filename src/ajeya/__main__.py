"""`python -m ajeya` is the same as the `ajeya` command."""

from ajeya.cli import main

raise SystemExit(main())
