"""``python -m workbench``: the CLI."""

from workbench.cli.main import main

main()
