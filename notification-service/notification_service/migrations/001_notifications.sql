-- Where each user's mail goes: the address and name their user.registered event carried.
CREATE TABLE recipients (
    user_id bigint PRIMARY KEY,
    email text NOT NULL,
    name text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One notification per event (event_id), and the state of its mail.
CREATE TABLE notifications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    user_id bigint NOT NULL,
    type text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    request_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- When the mail's retry window started: the notification's creation, or the moment
    -- failed mail was queued again (requeue-failed-mail); given up MAIL_GIVE_UP_HOURS later.
    queued_at timestamptz NOT NULL DEFAULT now(),
    email_status text NOT NULL DEFAULT 'queued'
        CHECK (email_status IN ('queued', 'sent', 'failed')),
    mail_attempts integer NOT NULL DEFAULT 0 CHECK (mail_attempts >= 0),
    next_mail_at timestamptz NOT NULL DEFAULT now(),
    mail_error text,
    sent_at timestamptz
);

CREATE INDEX notifications_by_user ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_mail_due ON notifications (next_mail_at) WHERE email_status = 'queued';
-- The failed-mail gauge counts these at every scrape.
CREATE INDEX notifications_mail_failed ON notifications (id) WHERE email_status = 'failed';
