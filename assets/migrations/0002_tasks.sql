-- Public schema: tasks and their results (the spec's "Task management tables").
--
-- CREATE TABLE IF NOT EXISTS leaves a table the platform already made alone,
-- so each named constraint is then added only where it is missing. The names
-- are the ones PostgreSQL gives the spec's inline constraints, so a table
-- created from the spec's own SQL is recognised as complete.

CREATE TABLE IF NOT EXISTS public.tasks (
    id UUID PRIMARY KEY DEFAULT extensions.uuid_generate_v4(),
    task_id TEXT NOT NULL,
    intent TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    content JSONB DEFAULT '{}',
    priority INTEGER DEFAULT 1,
    created_by TEXT,
    assigned_to TEXT,
    parent_task_id UUID,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    started_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    failed_at TIMESTAMPTZ,
    error_message TEXT,
    retry_count INTEGER DEFAULT 0,
    max_retries INTEGER DEFAULT 3,
    timeout_seconds INTEGER DEFAULT 300,
    metadata JSONB DEFAULT '{}'
);

DO $$
DECLARE
  item text[];
BEGIN
  FOREACH item SLICE 1 IN ARRAY ARRAY[
    ['tasks_task_id_key', 'UNIQUE (task_id)'],
    ['tasks_status_check',
     $c$CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled'))$c$],
    ['tasks_priority_check', 'CHECK (priority BETWEEN 1 AND 5)'],
    ['tasks_parent_task_id_fkey', 'FOREIGN KEY (parent_task_id) REFERENCES public.tasks(id)']
  ] LOOP
    IF NOT EXISTS (
      SELECT 1 FROM pg_constraint
       WHERE conrelid = 'public.tasks'::regclass AND conname = item[1]
    ) THEN
      EXECUTE format('ALTER TABLE public.tasks ADD CONSTRAINT %I %s', item[1], item[2]);
    END IF;
  END LOOP;
END
$$;

CREATE TABLE IF NOT EXISTS public.task_results (
    id UUID PRIMARY KEY DEFAULT extensions.uuid_generate_v4(),
    task_id UUID,
    result_type TEXT NOT NULL,
    content JSONB NOT NULL,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    metadata JSONB DEFAULT '{}'
);

DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_constraint
     WHERE conrelid = 'public.task_results'::regclass AND conname = 'task_results_task_id_fkey'
  ) THEN
    ALTER TABLE public.task_results
      ADD CONSTRAINT task_results_task_id_fkey
      FOREIGN KEY (task_id) REFERENCES public.tasks(id) ON DELETE CASCADE;
  END IF;
END
$$;
