"""`python -m gthfx.cli.main`: the same as the `gthfx` command."""

from gthfx.cli.main import main

main()
