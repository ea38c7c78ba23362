-- The quota schema: tables, indexes, constraints and the documentation
-- every table and column must carry.
BEGIN;
SELECT plan(27);

SELECT has_table('applications');
SELECT has_table('jobs');
SELECT has_table('idempotency_keys');
SELECT has_table('settings');
SELECT has_view('license_usage');
SELECT has_view('license_window_plain_count');
SELECT has_function('licensing_prune_jobs', ARRAY[]::text[]);

SELECT has_index('jobs', 'jobs_license_seq_key', ARRAY['license_id', 'seq']);
SELECT has_index('jobs', 'jobs_license_started_at_idx', ARRAY['license_id', 'started_at', 'seq']);
SELECT index_is_unique('jobs', 'jobs_license_seq_key');
SELECT index_is_unique('applications', 'applications_active_name_key');

SELECT is(
    (SELECT count(*)::int
     FROM pg_class AS c
     JOIN pg_namespace AS n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public'
       AND c.relname IN ('applications', 'jobs', 'idempotency_keys', 'settings', 'license_usage', 'license_window_plain_count')
       AND obj_description(c.oid, 'pg_class') IS NULL),
    0,
    'every quota table and view has a COMMENT');
SELECT is(
    (SELECT string_agg(c.table_name || '.' || c.column_name, ', ')
     FROM information_schema.columns AS c
     JOIN pg_class AS t ON t.relname = c.table_name
     WHERE c.table_schema = 'public'
       AND c.table_name IN ('applications', 'jobs', 'idempotency_keys', 'settings', 'license_usage', 'license_window_plain_count')
       AND col_description(t.oid, c.ordinal_position::int) IS NULL),
    NULL,
    'every quota column has a COMMENT');
SELECT is(
    (SELECT count(*)::int
     FROM pg_constraint AS k
     JOIN pg_class AS t ON t.oid = k.conrelid
     WHERE t.relname IN ('applications', 'jobs', 'idempotency_keys', 'settings')
       AND k.contype = 'c'
       AND k.conname ~ '_check$'),
    0,
    'every CHECK constraint is named for its rule');

-- Fixtures.
INSERT INTO licenses (id, tenant_id, tenant_name, max_apps, max_executions_per_24h, valid_from, valid_to)
VALUES ('00000000-0000-0000-0000-00000000000a', 'schema-test', 'Schema test', 2, 2, now() - interval '1 day', now() + interval '1 day');
INSERT INTO applications (id, license_id, name)
VALUES ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-00000000000a', 'app');

SELECT throws_ok(
    $$INSERT INTO applications (license_id, name) VALUES ('00000000-0000-0000-0000-00000000000a', 'app')$$,
    '23505', NULL, 'two active applications of a license cannot share a name');
UPDATE applications SET is_active = false, deleted_at = now() WHERE id = '00000000-0000-0000-0000-0000000000a1';
SELECT lives_ok(
    $$INSERT INTO applications (license_id, name) VALUES ('00000000-0000-0000-0000-00000000000a', 'app')$$,
    'a deleted application''s name can be registered again');
SELECT throws_ok(
    $$INSERT INTO applications (license_id, name) VALUES ('00000000-0000-0000-0000-00000000000a', '')$$,
    '23514', NULL, 'an application needs a name');
SELECT throws_ok(
    $$INSERT INTO applications (license_id, name, metadata) VALUES ('00000000-0000-0000-0000-00000000000a', 'm', '[1]')$$,
    '23514', NULL, 'metadata is an object');
SELECT throws_ok(
    $$UPDATE applications SET is_active = false WHERE deleted_at IS NULL$$,
    '23514', NULL, 'an inactive application has deleted_at');

INSERT INTO jobs (license_id, application_id, seq, name, started_at)
VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-0000000000a1', 1, 'j', now());
SELECT throws_ok(
    $$INSERT INTO jobs (license_id, application_id, seq, name, started_at)
      VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-0000000000a1', 1, 'j', now())$$,
    '23505', NULL, 'a sequence number is used once per license');
SELECT throws_ok(
    $$UPDATE jobs SET cpu_usage = 100.5$$,
    '23514', NULL, 'cpu_usage is a percentage');
SELECT throws_ok(
    $$UPDATE jobs SET memory_usage = -1$$,
    '23514', NULL, 'memory_usage is not negative');
SELECT throws_ok(
    $$UPDATE jobs SET status = 'COMPLETED'$$,
    '23514', NULL, 'a finished job has finished_at');
SELECT throws_ok(
    $$UPDATE jobs SET status = 'COMPLETED', finished_at = started_at - interval '1 second'$$,
    '23514', NULL, 'a job cannot finish before it started');
UPDATE jobs SET status = 'COMPLETED', finished_at = started_at + interval '1.5 seconds';
SELECT is((SELECT execution_time FROM jobs), 1.5::double precision, 'execution_time is finished_at - started_at in seconds');

SELECT throws_ok(
    $$UPDATE settings SET job_retention = interval '23 hours 59 minutes'$$,
    '23514', NULL, 'the retention is never under 24 hours');
SELECT throws_ok(
    $$INSERT INTO settings (id) VALUES (false)$$,
    '23514', NULL, 'settings has one row');

SELECT * FROM finish();
ROLLBACK;
