-- Question: Where is lineage missing: run attempts whose lineage has a hole, with the kind of hole.
--
-- Parameters (Athena execution parameters, in this order; literals, text in single quotes):
--   1. first event_date of the window, 'yyyy-MM-dd'
--   2. last event_date of the window, 'yyyy-MM-dd'
--
-- Example: the last seven days
--   aws athena start-query-execution --work-group lineage --query-execution-context Database=lineage
--     --query-string file://lineage_plane/queries/lineage_gaps.sql
--     --execution-parameters "'2026-11-15'" "'2026-11-21'"
--
-- Notes: events the plane's observers wrote (the Glue bridge, the run reconciler, DataZone) carry the
-- tag observed_by; every other event came from the job itself (lineage_lib). gap_kind is one of:
--   gap: the platform ran the attempt and not one event came from the job (metric LineageGaps);
--   incomplete: the platform says the attempt ended, and the job's lineage has no terminal event;
--   no_datasets: the job's lineage completed (RUN_COMPLETE) without one READ, WRITE or TRANSFORM.
-- platform_state is how the platform says the attempt ended (SUCCEEDED, FAILED, TIMEOUT, STOPPED,
-- ERROR; NOT_FOUND or EXPIRED when the run reconciler closed it). Each event_id counts once.
WITH deduped AS (
    SELECT
        event_id,
        event_type,
        event_time,
        pipeline_id,
        run_id,
        attempt,
        element_at(tags, 'observed_by') AS observed_by,
        element_at(tags, 'platform_state') AS platform_state,
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
        count_if(observed_by IS NULL) AS own_events,
        count_if(observed_by IS NULL AND event_type IN ('READ', 'WRITE', 'TRANSFORM')) AS operations,
        count_if(observed_by IS NULL AND event_type = 'RUN_COMPLETE') AS completions,
        count_if(observed_by IS NULL AND event_type IN ('RUN_COMPLETE', 'RUN_FAIL', 'RUN_ABORT')) AS own_ends,
        max(platform_state) AS platform_state,
        array_sort(array_agg(DISTINCT observed_by) FILTER (WHERE observed_by IS NOT NULL)) AS observers
    FROM deduped
    WHERE delivery = 1
    GROUP BY pipeline_id, run_id, attempt
)

SELECT
    pipeline_id,
    run_id,
    attempt,
    CASE
        WHEN own_events = 0 THEN 'gap'
        WHEN platform_state IS NOT NULL AND own_ends = 0 THEN 'incomplete'
        ELSE 'no_datasets'
    END AS gap_kind,
    platform_state,
    observers,
    own_events,
    first_event_at,
    last_event_at
FROM attempts
WHERE own_events = 0
   OR (platform_state IS NOT NULL AND own_ends = 0)
   OR (completions > 0 AND operations = 0)
ORDER BY last_event_at DESC, pipeline_id, run_id, attempt
