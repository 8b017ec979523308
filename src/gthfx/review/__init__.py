"""Review (复核): the per-district review workbooks of a run, and reading them back."""
