-- Question: What did the validator refuse, and why: quarantined lines per day, reason and log group.
--
-- Parameters (Athena execution parameters, in this order; literals, text in single quotes):
--   1. first log_date of the window, 'yyyy-MM-dd'
--   2. last log_date of the window, 'yyyy-MM-dd'
--
-- Example: after the EventsQuarantined alarm fired today
--   aws athena start-query-execution --work-group lineage --query-execution-context Database=lineage
--     --query-string file://lineage_plane/queries/quarantined_by_reason.sql
--     --execution-parameters "'2026-11-21'" "'2026-11-21'"
--
-- Notes: log_date is the UTC date of the delivering batch's first log event. A line counts once
-- (by event_id; when the line had no readable id, by CloudWatch log event id and the event's place
-- in its message, event_index, since one message can hold several events; an unreadable delivery,
-- which has neither, by its batch_id, a digest of the payload): a redelivery batched otherwise
-- quarantines its lines again, under another object. sample_path and sample_detail show one
-- refusal of the group; the lines themselves are in message.
WITH deduped AS (
    SELECT
        log_date,
        reason,
        ingest,
        row_number() OVER (
            PARTITION BY coalesce(
                event_id,
                ingest.log_event_id || '#' || CAST(coalesce(ingest.event_index, 0) AS varchar),
                ingest.batch_id
            )
            ORDER BY ingest.log_timestamp
        ) AS delivery
    FROM quarantine
    WHERE log_date BETWEEN ? AND ?
)

SELECT
    log_date,
    reason.code AS reason_code,
    ingest.log_group,
    count(*) AS lines,
    arbitrary(reason.path) AS sample_path,
    arbitrary(reason.detail) AS sample_detail,
    min(from_unixtime(ingest.log_timestamp / 1000.0)) AS first_logged_at,
    max(from_unixtime(ingest.log_timestamp / 1000.0)) AS last_logged_at
FROM deduped
WHERE delivery = 1
GROUP BY log_date, reason.code, ingest.log_group
ORDER BY log_date DESC, lines DESC
