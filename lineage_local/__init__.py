"""The local plane: the plane's Lambda handlers run for real on moto, for ``lineage demo`` and the tests.

A composition root like ``app.py``: it may import ``lambdas`` (the handlers it runs) beside the core.
"""
