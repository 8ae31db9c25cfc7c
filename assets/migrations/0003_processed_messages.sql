-- Public schema: message deduplication. A message id seen here was handled;
-- rows past expires_at may be purged.

CREATE TABLE IF NOT EXISTS public.processed_messages (
    message_id TEXT PRIMARY KEY,
    processed_at TIMESTAMPTZ DEFAULT NOW(),
    expires_at TIMESTAMPTZ DEFAULT NOW() + INTERVAL '48 hours'
);
