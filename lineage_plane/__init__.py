"""The plane core: what the Lambda functions, the CDK app and the ``lineage`` tool share.

The archive layout and keys, the run-state table and its fold, ingest (extract, validate, enrich,
group), the observers and the OpenLineage translator, metric names, the Athena table shapes and the
saved queries (``queries/*.sql``, package data). Pure Python: it imports ``lineage_lib`` and nothing
else of the project, and no AWS SDK, CDK or Powertools.
"""
