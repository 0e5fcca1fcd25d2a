-- Run by scripts/restore in every service database, before the services start again.
-- RabbitMQ's queues are not in a backup, so an event published before the backup may never
-- have reached its consumers: every event the outbox still holds (published ones are kept
-- OUTBOX_RETENTION_HOURS, a week) is published again by the relay. Consumers remember the
-- events they handled for longer (processed_events, 30 days) and skip those.
DO $$
DECLARE
    republished bigint;
BEGIN
    IF to_regclass('outbox') IS NOT NULL THEN
        UPDATE outbox
        SET published_at = NULL
        WHERE published_at IS NOT NULL;
        GET DIAGNOSTICS republished = ROW_COUNT;
        RAISE NOTICE '% events of % to publish again', republished, current_database();
    END IF;
END
$$;
