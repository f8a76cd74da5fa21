"""Benchmarks of axis-licensing (issue 3), run with ``python -m bench`` or ``nox -s bench``.

Each benchmark measures its own baseline in the same run and prints the
ratio, so figures from different machines compare as ratios, not as rates:

- (a) ``Manager.allocate`` per second on SQLite against bare ``sqlite3`` doing
  the least any implementation must do per command (target baseline/ours ≤ 1.5,
  issue 14); ``python -m bench.floor_a`` measures what bounds it;
- (b) ``Manager.status`` for an organization with 10,000 history rows against
  one with 10 (target ≤ 1.3);
- (c) allocations per second on PostgreSQL with 1 and 8 client processes,
  spread over 8 organizations or concentrated on one (skipped without a server);
- (k) an API request's authentication with a token stored in the store (SPEC §8)
  against today's tokens file, per request (auth + ``status``; target ≤ 1.1).

These are benchmarks, not tests: nothing here runs under pytest.
"""
