-- Public schema: the agent registry. Constraints are added by name only where
-- missing, as in 0002.

CREATE TABLE IF NOT EXISTS public.agent_registry (
    id UUID PRIMARY KEY DEFAULT extensions.uuid_generate_v4(),
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT DEFAULT 'inactive',
    endpoint_url TEXT,
    health_check_url TEXT,
    capabilities JSONB DEFAULT '[]',
    configuration JSONB DEFAULT '{}',
    last_heartbeat TIMESTAMPTZ,
    registered_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW()
);

DO $$
DECLARE
  item text[];
BEGIN
  FOREACH item SLICE 1 IN ARRAY ARRAY[
    ['agent_registry_name_key', 'UNIQUE (name)'],
    ['agent_registry_status_check',
     $c$CHECK (status IN ('active', 'inactive', 'maintenance'))$c$]
  ] LOOP
    IF NOT EXISTS (
      SELECT 1 FROM pg_constraint
       WHERE conrelid = 'public.agent_registry'::regclass AND conname = item[1]
    ) THEN
      EXECUTE format('ALTER TABLE public.agent_registry ADD CONSTRAINT %I %s', item[1], item[2]);
    END IF;
  END LOOP;
END
$$;
