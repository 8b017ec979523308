"""CLI: the gthfx command line — arguments → options → one app call → rendering → exit code."""

import os

# Polars' allocator (jemalloc, on Linux) is asked by Polars to give freed memory back after
# 0.5 s, and then 1 s more before it stops counting as resident; but with no thread of its own,
# it only does so when the program next allocates or frees, so a run's resident memory still
# held memory that earlier steps had freed. A background thread gives it back within 0.5 s.
# Each of jemalloc's arenas (by default four per core) keeps its own freed memory, which the
# threads of another cannot reuse: every page the kernel hands out afresh is a page fault and
# a page to zero (10 M businesses: ~15 s of the run in the kernel). One arena per two cores
# lets the threads reuse each other's (2 cores, 10 M: CSV 39 → 37.5 s, typed Parquet 28.5 →
# 27 s, peak ~3.4 → ~3.5 GB; measured on 2 cores only). Polars reads this when it loads and
# puts it after its own settings, so it is set here, before any command imports Polars; an
# operator's own `_RJEM_MALLOC_CONF` is left as it is. Other allocators ignore it. See README
# "Performance".
ARENAS = max(1, (os.cpu_count() or 2) // 2)
ALLOCATOR = f"background_thread:true,dirty_decay_ms:500,muzzy_decay_ms:0,narenas:{ARENAS}"
os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR)
