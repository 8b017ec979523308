"""CLI: the gthfx command line — arguments → options → one app call → rendering → exit code."""

import os

# Polars' allocator (jemalloc, on Linux) is asked by Polars to give freed memory back after
# 0.5 s, and then 1 s more before it stops counting as resident; but with no thread of its own,
# it only does so when the program next allocates or frees, so a run's resident memory still
# held about 1 GB that earlier steps had freed (10 M businesses). A background thread gives it
# back within 0.3 s, at the same speed (at once without the thread costs a quarter of the run's
# time). Polars reads this when it loads and puts it after its own settings, so it is set here,
# before any command imports Polars; an operator's own `_RJEM_MALLOC_CONF` is left as it is.
# Other allocators ignore it. See README "Performance".
ALLOCATOR = "background_thread:true,dirty_decay_ms:300,muzzy_decay_ms:0"
os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR)
