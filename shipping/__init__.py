"""Shipping lineage_lib into jobs: the Glue wheelhouses, the EMR bootstrap action, the Lambda layer.

``python -m shipping.build --out DIR`` (``make artifacts``) builds all three; see ``shipping.build``.
Build-time code only: nothing here ships into a job, and lineage_lib never imports it.
"""
