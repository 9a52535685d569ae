-- Question: Which schema versions has each dataset been read and written with, and when was each
-- first and last seen.
--
-- Parameters (Athena execution parameters, in this order; literals, text in single quotes):
--   1. first event_date of the window, 'yyyy-MM-dd'
--   2. last event_date of the window, 'yyyy-MM-dd'
--   3. dataset id pattern (LIKE): '%' for every dataset, 'glue://default/raw_db.%' for one database
--
-- Example: the raw database's tables over the quarter
--   aws athena start-query-execution --work-group lineage --query-execution-context Database=lineage
--     --query-string file://lineage_plane/queries/schema_versions_per_dataset.sql
--     --execution-parameters "'2026-09-01'" "'2026-11-21'" "'glue://default/raw_db.%'"
--
-- Notes: the version is the source's or target's schema.version, as the job declared it
-- (with_schema); events without one are left out. Two versions of one dataset overlapping in time
-- mean two jobs saw different schemas at once. Each event_id counts once.
WITH deduped AS (
    SELECT
        event_id,
        event_time,
        pipeline_id,
        source,
        target,
        row_number() OVER (PARTITION BY event_id ORDER BY ingest.log_timestamp) AS delivery
    FROM events_all_pipelines
    WHERE event_date BETWEEN ? AND ?
      AND event_type IN ('READ', 'WRITE', 'TRANSFORM')
),

uses AS (
    SELECT
        d.event_id,
        from_iso8601_timestamp(d.event_time) AS seen_at,
        d.pipeline_id,
        u.role,
        u.dataset_id,
        u.schema_version
    FROM deduped AS d
    CROSS JOIN UNNEST(
        ARRAY[
            ROW('read', d.source.id, d.source.schema.version),
            ROW('write', d.target.id, d.target.schema.version)
        ]
    ) AS u (role, dataset_id, schema_version)
    WHERE d.delivery = 1
      AND u.schema_version IS NOT NULL
)

SELECT
    dataset_id,
    schema_version,
    min(seen_at) AS first_seen,
    max(seen_at) AS last_seen,
    count_if(role = 'read') AS reads,
    count_if(role = 'write') AS writes,
    array_sort(array_agg(DISTINCT pipeline_id)) AS pipelines
FROM uses
WHERE dataset_id LIKE ?
GROUP BY dataset_id, schema_version
ORDER BY dataset_id, first_seen
