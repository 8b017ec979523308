"""名特优新 (SPEC §10): screening, publicity, certification, the 3-year register and its evaluation.

Screening applications against a typed run, publicity, certification after objections, the
3-year register (an append-only, hash-chained event log) and its yearly evaluation, and the
figures for the monitoring report. One module per step (`screen`, `publicize`, `certify`,
`evaluate`, `register`, `explain`), the pure logic in `core`, the inputs in `inputs`, the step
folders in `folders`.

The stable API for the monitoring report, the support list and the directory export:
`register.entries_in_force(register_dir, on)` and `register.category_numbers(register_dir, on)`.
"""
