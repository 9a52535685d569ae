-- Question: Where is lineage missing: run attempts whose lineage has a hole, with the kind of hole.
--
-- Parameters (Athena execution parameters, in this order; literals, text in single quotes):
--   1. first event_date of the window, 'yyyy-MM-dd'
--   2. last event_date of the window, 'yyyy-MM-dd'
--
-- Example: the last seven days
--   aws athena start-query-execution --work-group lineage --query-execution-context Database=lineage
--     --query-string file://queries/lineage_gaps.sql
--     --execution-parameters "'2026-11-15'" "'2026-11-21'"
--
-- Notes: a placeholder until the Glue bridge (which reports platform runs that left no lineage,
-- metric LineageGaps) writes its own events. It needs nothing the contract does not already have;
-- gap_kind is one of:
--   tagged: an event of the attempt carries the tag lineage_gap (its value says why);
--   observed_only: no event came from lineage_lib itself, only from an observer of the run (the
--     bridge): the job ran without recording lineage;
--   no_datasets: the attempt completed (RUN_COMPLETE) without one READ, WRITE or TRANSFORM.
-- Once the bridge's producer name and tags are settled, match them here. Each event_id counts once.
WITH deduped AS (
    SELECT
        event_id,
        event_type,
        event_time,
        pipeline_id,
        run_id,
        attempt,
        producer,
        tags,
        row_number() OVER (PARTITION BY event_id ORDER BY ingest.log_timestamp) AS delivery
    FROM events_all_pipelines
    WHERE event_date BETWEEN ? AND ?
),

attempts AS (
    SELECT
        pipeline_id,
        run_id,
        attempt,
        min(from_iso8601_timestamp(event_time)) AS first_event_at,
        max(from_iso8601_timestamp(event_time)) AS last_event_at,
        count(*) AS events,
        count_if(event_type IN ('READ', 'WRITE', 'TRANSFORM')) AS operations,
        count_if(event_type = 'RUN_COMPLETE') AS completions,
        count_if(producer.name = 'lineage_lib') AS from_lineage_lib,
        array_sort(array_agg(DISTINCT producer.name)) AS producers,
        max(element_at(tags, 'lineage_gap')) AS gap_tag
    FROM deduped
    WHERE delivery = 1
    GROUP BY pipeline_id, run_id, attempt
)

SELECT
    pipeline_id,
    run_id,
    attempt,
    CASE
        WHEN gap_tag IS NOT NULL THEN 'tagged'
        WHEN from_lineage_lib = 0 THEN 'observed_only'
        ELSE 'no_datasets'
    END AS gap_kind,
    gap_tag,
    producers,
    events,
    first_event_at,
    last_event_at
FROM attempts
WHERE gap_tag IS NOT NULL
   OR from_lineage_lib = 0
   OR (completions > 0 AND operations = 0)
ORDER BY last_event_at DESC, pipeline_id, run_id, attempt
