-- Question: What are the lineage graph's edges, as they stood at a time: every dataset-to-dataset
-- and column-to-column edge the events state, with the job that exercised it, its last run and
-- status, whether the job itself or the platform observed it, and the schema versions seen.
--
-- Parameters (Athena execution parameters, in this order; literals, text in single quotes):
--   1. first event_date of the window, 'yyyy-MM-dd'
--   2. last event_date of the window, 'yyyy-MM-dd'
--   3. as-of time, RFC 3339 in UTC, e.g. '2026-11-21T03:00:00Z': only events with an event_time
--      at or before it count ('9999-12-31T23:59:59Z' for now)
--
-- Example: the graph of the last seven days, as it stands now
--   aws athena start-query-execution --work-group lineage --query-execution-context Database=lineage
--     --query-string file://lineage_plane/queries/lineage_edges.sql
--     --execution-parameters "'2026-11-15'" "'2026-11-21'" "'9999-12-31T23:59:59Z'"
--
-- Notes: the contract's rule (schemas/README.md): within one step of one run attempt, every dataset
-- READ flows into every dataset written (WRITE); a TRANSFORM is one source-to-target edge; a
-- WRITE's or TRANSFORM's columns state column edges, and each implies the dataset edge from the
-- source column's dataset. Reads pair with writes of the same observer class only. edge_kind is
-- dataset (source_column, target_column and transformation empty) or column. observed is platform
-- for events with the tag observed_by (Glue bridge, run reconciler, DataZone), else execution.
-- One row per edge, job (pipeline_id, job_name, step) and observed. last_run_id and last_attempt
-- are the attempt of the latest event stating the edge; last_run_status is that attempt's own end
-- (FAILED over ABORTED over COMPLETE), else INCOMPLETE when only an observer reported its end,
-- else RUNNING. A column edge's source schema version is the one its step read. Self-edges (a job
-- reading and writing one table) are kept. The closure is the CLI's work, not this query's.
-- source_schema_versions and target_schema_versions are the distinct versions seen, sorted, as one
-- text joined by ', ' (an array costs the local engine more to hand over than the rest of a row).
-- Distinct values are taken from arrays (array_distinct) rather than DISTINCT aggregates, which
-- both engines plan as one more grouping each. A second delivery of an event (the same event_id)
-- changes nothing here: edges are grouped, times are minimums and maximums, runs are distinct, so
-- this query does not spend a window over every event to drop repeats.
WITH stated_events AS (
    SELECT
        event_type,
        event_time,
        from_iso8601_timestamp(event_time) AS seen_at,
        pipeline_id,
        run_id,
        attempt,
        step,
        coalesce(context.job_name, pipeline_id) AS job_name,
        source,
        target,
        columns,
        CASE WHEN element_at(tags, 'observed_by') IS NULL THEN 'execution' ELSE 'platform' END AS observed
    FROM events_all_pipelines
    WHERE event_date BETWEEN ? AND ?
      AND from_iso8601_timestamp(event_time) <= from_iso8601_timestamp(?)
      AND event_type IN ('READ', 'WRITE', 'TRANSFORM', 'RUN_COMPLETE', 'RUN_FAIL', 'RUN_ABORT')
),

ends AS (
    SELECT
        pipeline_id,
        run_id,
        attempt,
        max(
            CASE event_type WHEN 'RUN_FAIL' THEN 3 WHEN 'RUN_ABORT' THEN 2 WHEN 'RUN_COMPLETE' THEN 1 END
        ) FILTER (WHERE observed = 'execution') AS own_end,
        count_if(observed = 'platform') AS platform_ends
    FROM stated_events
    WHERE event_type IN ('RUN_COMPLETE', 'RUN_FAIL', 'RUN_ABORT')
    GROUP BY pipeline_id, run_id, attempt
),

reads AS (
    SELECT
        pipeline_id,
        run_id,
        attempt,
        step,
        observed,
        source.id AS dataset_id,
        source.schema.version AS schema_version,
        event_time,
        seen_at
    FROM stated_events
    WHERE event_type = 'READ'
),

writes AS (
    SELECT
        pipeline_id,
        run_id,
        attempt,
        step,
        observed,
        job_name,
        target.id AS dataset_id,
        target.schema.version AS schema_version,
        event_time,
        seen_at
    FROM stated_events
    WHERE event_type = 'WRITE'
),

column_sources AS (
    SELECT
        d.pipeline_id,
        d.run_id,
        d.attempt,
        d.step,
        d.observed,
        d.job_name,
        d.event_time,
        d.seen_at,
        origin.dataset AS source_dataset,
        origin.column AS source_column,
        d.target.id AS target_dataset,
        mapping.column AS target_column,
        mapping.transformation,
        CASE WHEN origin.dataset = d.source.id THEN d.source.schema.version END AS stated_version,
        d.target.schema.version AS target_version
    FROM stated_events AS d
    CROSS JOIN UNNEST(d.columns) AS mapping
    CROSS JOIN UNNEST(mapping.sources) AS origin
    WHERE d.event_type IN ('WRITE', 'TRANSFORM')
),

column_edges AS (
    SELECT
        c.pipeline_id,
        c.run_id,
        c.attempt,
        c.step,
        c.observed,
        c.job_name,
        c.event_time,
        c.seen_at,
        c.source_dataset,
        c.source_column,
        c.target_dataset,
        c.target_column,
        c.transformation,
        coalesce(c.stated_version, r.schema_version) AS source_version,
        c.target_version
    FROM column_sources AS c
    LEFT JOIN reads AS r
        ON r.pipeline_id = c.pipeline_id
        AND r.run_id = c.run_id
        AND r.attempt = c.attempt
        AND r.step = c.step
        AND r.observed = c.observed
        AND r.dataset_id = c.source_dataset
),

stated AS (
    SELECT
        'dataset' AS edge_kind,
        r.dataset_id AS source_dataset,
        CAST(NULL AS VARCHAR) AS source_column,
        w.dataset_id AS target_dataset,
        CAST(NULL AS VARCHAR) AS target_column,
        CAST(NULL AS VARCHAR) AS transformation,
        w.pipeline_id,
        w.job_name,
        w.step,
        w.observed,
        w.run_id,
        w.attempt,
        CASE WHEN r.seen_at > w.seen_at THEN r.event_time ELSE w.event_time END AS event_time,
        greatest(r.seen_at, w.seen_at) AS seen_at,
        r.schema_version AS source_version,
        w.schema_version AS target_version
    FROM reads AS r
    INNER JOIN writes AS w
        ON w.pipeline_id = r.pipeline_id
        AND w.run_id = r.run_id
        AND w.attempt = r.attempt
        AND w.step = r.step
        AND w.observed = r.observed
    UNION ALL
    SELECT
        'dataset',
        source.id,
        NULL,
        target.id,
        NULL,
        NULL,
        pipeline_id,
        job_name,
        step,
        observed,
        run_id,
        attempt,
        event_time,
        seen_at,
        source.schema.version,
        target.schema.version
    FROM stated_events
    WHERE event_type = 'TRANSFORM'
    UNION ALL
    SELECT
        'column',
        source_dataset,
        source_column,
        target_dataset,
        target_column,
        transformation,
        pipeline_id,
        job_name,
        step,
        observed,
        run_id,
        attempt,
        event_time,
        seen_at,
        source_version,
        target_version
    FROM column_edges
    UNION ALL
    SELECT
        'dataset',
        source_dataset,
        NULL,
        target_dataset,
        NULL,
        NULL,
        pipeline_id,
        job_name,
        step,
        observed,
        run_id,
        attempt,
        event_time,
        seen_at,
        source_version,
        target_version
    FROM column_edges
),

edges AS (
    SELECT
        edge_kind,
        source_dataset,
        source_column,
        target_dataset,
        target_column,
        transformation,
        pipeline_id,
        job_name,
        step,
        observed,
        min_by(event_time, seen_at) AS first_seen,
        max_by(event_time, seen_at) AS last_seen,
        max_by(run_id || '#' || CAST(attempt AS VARCHAR), seen_at) AS last_run,
        cardinality(array_distinct(array_agg(run_id || '#' || CAST(attempt AS VARCHAR)))) AS runs,
        array_distinct(array_agg(source_version) FILTER (WHERE source_version IS NOT NULL)) AS source_versions,
        array_distinct(array_agg(target_version) FILTER (WHERE target_version IS NOT NULL)) AS target_versions
    FROM stated
    GROUP BY
        edge_kind, source_dataset, source_column, target_dataset, target_column, transformation,
        pipeline_id, job_name, step, observed
),

last_runs AS (
    SELECT
        *,
        regexp_extract(last_run, '^(.*)#([0-9]+)$', 1) AS last_run_id,
        CAST(regexp_extract(last_run, '^(.*)#([0-9]+)$', 2) AS INTEGER) AS last_attempt
    FROM edges
)

SELECT
    e.edge_kind,
    e.source_dataset,
    e.source_column,
    e.target_dataset,
    e.target_column,
    e.transformation,
    e.pipeline_id,
    e.job_name,
    e.step,
    e.observed,
    e.first_seen,
    e.last_seen,
    e.last_run_id,
    e.last_attempt,
    CASE
        WHEN x.own_end = 3 THEN 'FAILED'
        WHEN x.own_end = 2 THEN 'ABORTED'
        WHEN x.own_end = 1 THEN 'COMPLETE'
        WHEN x.platform_ends > 0 THEN 'INCOMPLETE'
        ELSE 'RUNNING'
    END AS last_run_status,
    e.runs,
    array_join(array_sort(coalesce(e.source_versions, CAST(ARRAY[] AS ARRAY(VARCHAR)))), ', ') AS source_schema_versions,
    array_join(array_sort(coalesce(e.target_versions, CAST(ARRAY[] AS ARRAY(VARCHAR)))), ', ') AS target_schema_versions
FROM last_runs AS e
LEFT JOIN ends AS x
    ON x.pipeline_id = e.pipeline_id
    AND x.run_id = e.last_run_id
    AND x.attempt = e.last_attempt
