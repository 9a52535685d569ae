-- Question: Where did a column come from: the source columns that WRITE and TRANSFORM events
-- declared for one column of one dataset, with the transformation, the writers and when.
--
-- Parameters (Athena execution parameters, in this order; literals, text in single quotes):
--   1. first event_date of the window, 'yyyy-MM-dd'
--   2. last event_date of the window, 'yyyy-MM-dd'
--   3. the dataset written, e.g. 'glue://default/analytics_db.orders_daily'
--   4. the column of that dataset, e.g. 'revenue'
--
-- Example: where orders_daily.revenue came from this month
--   aws athena start-query-execution --work-group lineage --query-execution-context Database=lineage
--     --query-string file://lineage_plane/queries/column_origin.sql
--     --execution-parameters "'2026-11-01'" "'2026-11-21'"
--     "'glue://default/analytics_db.orders_daily'" "'revenue'"
--
-- Notes: one hop up; run it again on a source column to go further. Each event_id counts once
-- (the archive can hold a repeated delivery). A mapping that changed shows as several rows:
-- first_seen and last_seen tell which one is current.
WITH writes AS (
    SELECT
        event_id,
        event_time,
        pipeline_id,
        run_id,
        columns,
        row_number() OVER (PARTITION BY event_id ORDER BY ingest.log_timestamp) AS delivery
    FROM events_all_pipelines
    WHERE event_date BETWEEN ? AND ?
      AND event_type IN ('WRITE', 'TRANSFORM')
      AND target.id = ?
)

SELECT
    s.dataset AS source_dataset,
    s.column AS source_column,
    c.transformation,
    w.pipeline_id,
    count(*) AS events,
    count(DISTINCT w.run_id) AS runs,
    min(from_iso8601_timestamp(w.event_time)) AS first_seen,
    max(from_iso8601_timestamp(w.event_time)) AS last_seen,
    max_by(c.description, from_iso8601_timestamp(w.event_time)) AS latest_description
FROM writes AS w
CROSS JOIN UNNEST(w.columns) AS c
CROSS JOIN UNNEST(c.sources) AS s
WHERE w.delivery = 1
  AND c.column = ?
GROUP BY s.dataset, s.column, c.transformation, w.pipeline_id
ORDER BY last_seen DESC, source_dataset, source_column
