-- licensing_prune_jobs: deletes jobs older than the retention, keeps each
-- license's newest job and everything in the window, and expired keys.
BEGIN;
SELECT plan(8);

INSERT INTO licenses (id, tenant_id, tenant_name, max_apps, max_executions_per_24h, valid_from, valid_to)
VALUES ('00000000-0000-0000-0000-00000000000d', 'prune-busy', 'Prune busy', 1, 100, now() - interval '30 days', now() + interval '10 days'),
       ('00000000-0000-0000-0000-00000000000e', 'prune-idle', 'Prune idle', 1, 100, now() - interval '30 days', now() + interval '10 days');
INSERT INTO applications (id, license_id, name)
VALUES ('00000000-0000-0000-0000-0000000000d1', '00000000-0000-0000-0000-00000000000d', 'a'),
       ('00000000-0000-0000-0000-0000000000e1', '00000000-0000-0000-0000-00000000000e', 'a');
-- busy: one job a day for 10 days, the newest an hour ago.
INSERT INTO jobs (license_id, application_id, seq, name, started_at)
SELECT '00000000-0000-0000-0000-00000000000d', '00000000-0000-0000-0000-0000000000d1', s, 'j',
       now() - interval '1 hour' - (10 - s) * interval '1 day'
FROM generate_series(1, 10) AS s;
-- idle: three jobs, 20 days old.
INSERT INTO jobs (license_id, application_id, seq, name, started_at)
SELECT '00000000-0000-0000-0000-00000000000e', '00000000-0000-0000-0000-0000000000e1', s, 'j',
       now() - interval '20 days' + s * interval '1 minute'
FROM generate_series(1, 3) AS s;
INSERT INTO idempotency_keys (license_id, key, request_hash, response_status, response_body, created_at)
VALUES ('00000000-0000-0000-0000-00000000000d', 'old', sha256('a'), 201, '{}', now() - interval '25 hours'),
       ('00000000-0000-0000-0000-00000000000d', 'new', sha256('b'), 201, '{}', now() - interval '1 hour');

-- Default retention, 7 days: busy loses jobs 1..3 (9, 8 and 7 days and an
-- hour old), idle keeps only its newest.
SELECT is(licensing_prune_jobs(), 5::bigint, 'five jobs pruned');
SELECT results_eq(
    $$SELECT seq FROM jobs WHERE license_id = '00000000-0000-0000-0000-00000000000d' ORDER BY seq$$,
    $$SELECT generate_series(4, 10)::bigint$$,
    'busy keeps the last 7 days');
SELECT results_eq(
    $$SELECT seq FROM jobs WHERE license_id = '00000000-0000-0000-0000-00000000000e'$$,
    $$VALUES (3::bigint)$$,
    'idle keeps its newest job');
SELECT results_eq(
    $$SELECT key FROM idempotency_keys$$,
    $$VALUES ('new'::text)$$,
    'expired idempotency keys are gone');

-- The shortest retention, 24 hours: the window stays whole.
UPDATE settings SET job_retention = interval '24 hours';
SELECT is(licensing_prune_jobs(), 6::bigint, 'everything older than a day pruned');
SELECT results_eq(
    $$SELECT seq FROM jobs WHERE license_id = '00000000-0000-0000-0000-00000000000d'$$,
    $$VALUES (10::bigint)$$,
    'only the job inside the window is left');
SELECT is((SELECT executions_used FROM license_usage WHERE tenant_id = 'prune-busy'), 1::bigint, 'the window still counts it');
SELECT is(licensing_prune_jobs(), 0::bigint, 'pruning again deletes nothing');

SELECT * FROM finish();
ROLLBACK;
