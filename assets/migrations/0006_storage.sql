-- The storage schema. Supabase's storage API creates and migrates its own
-- tables (buckets, objects) in it; the platform only needs the schema to exist.

CREATE SCHEMA IF NOT EXISTS storage;
