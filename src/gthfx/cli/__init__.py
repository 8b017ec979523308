"""CLI: the gthfx command line — arguments → options → one app call → rendering → exit code."""
