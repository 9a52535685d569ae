-- Question: What is downstream of a dataset: every dataset written, within three hops, from data
-- that read it.
--
-- Parameters (Athena execution parameters, in this order; literals, text in single quotes):
--   1. first event_date of the window, 'yyyy-MM-dd'
--   2. last event_date of the window, 'yyyy-MM-dd'
--   3. the dataset id as lineage_lib writes it, e.g. 'glue://default/raw_db.orders_raw'
--
-- Example: what the seed job's input fed during one week
--   aws athena start-query-execution --work-group lineage --query-execution-context Database=lineage
--     --query-string file://lineage_plane/queries/downstream_of_dataset.sql
--     --execution-parameters "'2026-11-15'" "'2026-11-21'" "'glue://default/raw_db.orders_raw'"
--
-- Notes: an edge is the contract's rule (schemas/README.md): within one step of one run attempt,
-- every dataset read (READ or TRANSFORM source, or a column's source) flows into every dataset
-- written (WRITE or TRANSFORM target). One row per dataset reached: its shortest distance and the
-- pipelines that wrote it on the way. Edges are sets, so a second delivery of an event_id cannot
-- change the answer. Athena scans the window once per hop (it does not materialise CTEs); a fourth
-- hop is one more LEFT JOIN and ROW.
WITH operations AS (
    SELECT
        pipeline_id,
        run_id,
        attempt,
        step,
        filter(ARRAY[source.id], id -> id IS NOT NULL)
        || coalesce(
            flatten(transform(columns, c -> transform(c.sources, s -> s.dataset))),
            CAST(ARRAY[] AS ARRAY(VARCHAR))
        ) AS inputs,
        filter(ARRAY[target.id], id -> id IS NOT NULL) AS outputs
    FROM events_all_pipelines
    WHERE event_date BETWEEN ? AND ?
      AND event_type IN ('READ', 'WRITE', 'TRANSFORM')
),

steps AS (
    SELECT
        pipeline_id,
        array_distinct(flatten(array_agg(inputs))) AS inputs,
        array_distinct(flatten(array_agg(outputs))) AS outputs
    FROM operations
    GROUP BY pipeline_id, run_id, attempt, step
),

edges AS (
    SELECT DISTINCT
        i.upstream,
        o.downstream,
        s.pipeline_id
    FROM steps AS s
    CROSS JOIN UNNEST(s.inputs) AS i (upstream)
    CROSS JOIN UNNEST(s.outputs) AS o (downstream)
    WHERE i.upstream <> o.downstream
),

paths AS (
    SELECT
        e1.downstream AS hop1,
        e1.pipeline_id AS via1,
        e2.downstream AS hop2,
        e2.pipeline_id AS via2,
        e3.downstream AS hop3,
        e3.pipeline_id AS via3
    FROM edges AS e1
    LEFT JOIN edges AS e2 ON e2.upstream = e1.downstream
    LEFT JOIN edges AS e3 ON e3.upstream = e2.downstream
    WHERE e1.upstream = ?
)

SELECT
    reached.dataset_id,
    min(reached.hops) AS hops,
    array_sort(array_agg(DISTINCT reached.pipeline_id)) AS written_by_pipelines
FROM paths
CROSS JOIN UNNEST(
    ARRAY[ROW(hop1, 1, via1), ROW(hop2, 2, via2), ROW(hop3, 3, via3)]
) AS reached (dataset_id, hops, pipeline_id)
WHERE reached.dataset_id IS NOT NULL
GROUP BY reached.dataset_id
ORDER BY hops, reached.dataset_id
