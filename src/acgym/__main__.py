"""``python -m acgym`` runs the command line."""

from acgym.cli import main

raise SystemExit(main())
