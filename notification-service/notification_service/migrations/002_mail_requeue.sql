-- When a mail's retry window started: its notification's creation, or the moment failed
-- mail was queued again (requeue-failed-mail); it is given up MAIL_GIVE_UP_HOURS later.
ALTER TABLE notifications ADD COLUMN queued_at timestamptz NOT NULL DEFAULT now();
UPDATE notifications SET queued_at = created_at;

-- The failed-mail gauge of /metrics counts these at every scrape.
CREATE INDEX notifications_mail_failed ON notifications (id) WHERE email_status = 'failed';
