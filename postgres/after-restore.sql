-- Run by scripts/restore in every service database before the services start again, with
-- psql's variable `minutes` (RESTORE_REPUBLISH_MINUTES).
-- RabbitMQ's queues are not in a backup: an event published shortly before it may never
-- have reached its consumers. The events published in the last `minutes` before the backup
-- go out again (the relay publishes them first, in their order); consumers remember the
-- events they handled (processed_events, 30 days) and skip those.
SET flotilla.republish_minutes = :'minutes';
DO $$
DECLARE
    republished bigint;
BEGIN
    IF to_regclass('outbox') IS NOT NULL THEN
        UPDATE outbox
        SET published_at = NULL
        WHERE published_at > (SELECT max(published_at) FROM outbox)
            - make_interval(mins => current_setting('flotilla.republish_minutes')::int);
        GET DIAGNOSTICS republished = ROW_COUNT;
        RAISE NOTICE '% events of % to publish again', republished, current_database();
    END IF;
END
$$;
