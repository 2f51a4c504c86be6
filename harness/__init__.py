"""Real processes that the tests and the benchmarks start (never the product): see `processes`."""
