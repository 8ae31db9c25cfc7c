-- The `extensions` schema and uuid-ossp, which every table's default id calls
-- as extensions.uuid_generate_v4().
--
-- The Supabase image already creates both; a plain PostgreSQL has neither.
-- When uuid-ossp was installed into another schema (CREATE EXTENSION without
-- WITH SCHEMA puts it in public), it is moved: the extension is relocatable
-- and column defaults that call it refer to the function, not its schema, so
-- nothing that uses it breaks.

CREATE SCHEMA IF NOT EXISTS extensions;

CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA extensions;

DO $$
DECLARE
  current_schema_name name;
BEGIN
  SELECT n.nspname INTO current_schema_name
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'uuid-ossp';
  IF current_schema_name IS DISTINCT FROM 'extensions' THEN
    RAISE NOTICE 'moving uuid-ossp from schema % to extensions', current_schema_name;
    ALTER EXTENSION "uuid-ossp" SET SCHEMA extensions;
  END IF;
END
$$;
