-- Emails are normalised once, in Python (flotilla.schemas.normalise_email), and compared
-- as stored. PostgreSQL's lower() follows the server's locale and Unicode tables, which
-- need not be Python's: a CHECK with it could refuse an address Python had normalised
-- (a 500 at sign-up). The length bound stays.
ALTER TABLE users DROP CONSTRAINT users_email_check;
ALTER TABLE users ADD CONSTRAINT users_email_length CHECK (length(email) <= 254);
