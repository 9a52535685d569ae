-- Question: Which runs are incomplete: run attempts that started (RUN_START) in the window and have
-- no terminal event (RUN_COMPLETE, RUN_FAIL or RUN_ABORT) of the same pipeline, run and attempt.
--
-- Parameters (Athena execution parameters, in this order; literals, text in single quotes):
--   1. first event_date of the window, 'yyyy-MM-dd'
--   2. last event_date of the window, 'yyyy-MM-dd': today, so that a run that ended after midnight
--      is seen ending
--   3. pipeline_id pattern (LIKE): '%' for every pipeline, 'orders-%' for some
--
-- Example: every pipeline, the last three days
--   aws athena start-query-execution --work-group lineage --query-execution-context Database=lineage
--     --query-string file://lineage_plane/queries/incomplete_runs.sql
--     --execution-parameters "'2026-11-19'" "'2026-11-21'" "'%'"
--
-- Notes: only the job's own events count as its lineage; an end the platform reported (an event the
-- Glue bridge or the run reconciler wrote, tag observed_by) is shown as platform_state: a run that
-- Glue says ended and whose lineage never did is incomplete, whatever Glue says. A run still going
-- is here too: silent_minutes (since its last event) tells a live run from a crashed one, and
-- platform_state is empty. The run state's active-runs index answers the same for runs it still
-- holds; this reads the archive, so it also covers runs older than the state's retention. Each
-- event_id counts once.
WITH deduped AS (
    SELECT
        event_id,
        event_type,
        event_time,
        pipeline_id,
        run_id,
        attempt,
        context,
        element_at(tags, 'observed_by') AS observed_by,
        element_at(tags, 'platform_state') AS platform_state,
        row_number() OVER (PARTITION BY event_id ORDER BY ingest.log_timestamp) AS delivery
    FROM events_all_pipelines
    WHERE event_date BETWEEN ? AND ?
      AND pipeline_id LIKE ?
),

attempts AS (
    SELECT
        pipeline_id,
        run_id,
        attempt,
        min(from_iso8601_timestamp(event_time)) FILTER (WHERE event_type = 'RUN_START') AS started_at,
        max(from_iso8601_timestamp(event_time)) FILTER (WHERE observed_by IS NULL) AS last_event_at,
        max_by(event_type, from_iso8601_timestamp(event_time)) FILTER (
            WHERE observed_by IS NULL
        ) AS last_event_type,
        count_if(observed_by IS NULL) AS events,
        count_if(
            observed_by IS NULL AND event_type IN ('RUN_COMPLETE', 'RUN_FAIL', 'RUN_ABORT')
        ) AS terminal_events,
        max(platform_state) AS platform_state,
        arbitrary(context.platform) AS platform,
        max(context.job_run_id) AS glue_job_run_id,
        max(context.step_id) AS emr_step_id,
        max(context.request_id) AS lambda_request_id,
        max(context.sfn_execution_arn) AS sfn_execution_arn
    FROM deduped
    WHERE delivery = 1
    GROUP BY pipeline_id, run_id, attempt
)

SELECT
    pipeline_id,
    run_id,
    attempt,
    platform,
    started_at,
    last_event_at,
    last_event_type,
    platform_state,
    date_diff('minute', last_event_at, current_timestamp) AS silent_minutes,
    events,
    glue_job_run_id,
    emr_step_id,
    lambda_request_id,
    sfn_execution_arn
FROM attempts
WHERE started_at IS NOT NULL
  AND terminal_events = 0
ORDER BY last_event_at, pipeline_id, run_id, attempt
