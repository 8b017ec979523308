"""`python -m gthfx.cli`: the same as the `gthfx` command."""

from gthfx.cli.main import main

main()
