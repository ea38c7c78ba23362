-- license_usage: the fast count of the sliding window equals the plain
-- COUNT, and next_slot_at is when the oldest counted execution leaves.
BEGIN;
SELECT plan(14);

INSERT INTO licenses (id, tenant_id, tenant_name, max_apps, max_executions_per_24h, valid_from, valid_to)
VALUES ('00000000-0000-0000-0000-00000000000b', 'window-test', 'Window test', 3, 5, now() - interval '10 days', now() + interval '10 days'),
       ('00000000-0000-0000-0000-00000000000c', 'window-empty', 'Window empty', 1, 0, now() - interval '10 days', now() + interval '10 days');
INSERT INTO applications (id, license_id, name)
VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-00000000000b', 'a'),
       ('00000000-0000-0000-0000-0000000000b2', '00000000-0000-0000-0000-00000000000b', 'b');

-- Eight jobs, one every 4 hours: the newest 30 minutes ago. Jobs 1..2 are
-- 28h30m and 24h30m old (out), 3..8 are in: 6 executions, over the limit
-- of 5 (as after a downgrade).
INSERT INTO jobs (license_id, application_id, seq, name, started_at)
SELECT '00000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-0000000000b1', s, 'j',
       now() - interval '30 minutes' - (8 - s) * interval '4 hours'
FROM generate_series(1, 8) AS s;

SELECT is((SELECT executions_used FROM license_usage WHERE tenant_id = 'window-test'), 6::bigint, 'fast count');
SELECT is((SELECT used FROM license_window_plain_count WHERE license_id = '00000000-0000-0000-0000-00000000000b'), 6::bigint, 'plain count');
SELECT is((SELECT executions_remaining FROM license_usage WHERE tenant_id = 'window-test'), 0::bigint, 'nothing remains over the limit');
-- A start fits once used < 5: after jobs 3 and 4 leave, i.e. when job 4
-- (seq newest - max + 1 = 8 - 5 + 1) leaves: 24h after it started.
SELECT is((SELECT next_slot_at FROM license_usage WHERE tenant_id = 'window-test'),
          (SELECT started_at + interval '24 hours' FROM jobs WHERE seq = 4 AND license_id = '00000000-0000-0000-0000-00000000000b'),
          'next slot: when job 4 leaves the window');
SELECT is((SELECT apps_used FROM license_usage WHERE tenant_id = 'window-test'), 2::bigint, 'apps used');
SELECT is((SELECT apps_remaining FROM license_usage WHERE tenant_id = 'window-test'), 1::bigint, 'apps remaining');

-- An upgrade: the same history now leaves room and no next slot.
UPDATE licenses SET max_executions_per_24h = 10 WHERE tenant_id = 'window-test';
SELECT is((SELECT executions_remaining FROM license_usage WHERE tenant_id = 'window-test'), 4::bigint, 'room after an upgrade');
SELECT is((SELECT next_slot_at FROM license_usage WHERE tenant_id = 'window-test'), NULL, 'no next slot while starts fit');

-- A job exactly 24 hours old is out; a microsecond younger is in.
UPDATE jobs SET started_at = now() - interval '24 hours' WHERE seq <= 3 AND license_id = '00000000-0000-0000-0000-00000000000b';
SELECT is((SELECT executions_used FROM license_usage WHERE tenant_id = 'window-test'), 5::bigint, 'exactly 24 hours old: out');
UPDATE jobs SET started_at = now() - interval '24 hours' + interval '1 microsecond' WHERE seq = 3 AND license_id = '00000000-0000-0000-0000-00000000000b';
SELECT is((SELECT executions_used FROM license_usage WHERE tenant_id = 'window-test'), 6::bigint, 'a microsecond younger: in');

-- The two counts agree for every license.
SELECT is((SELECT count(*)::int FROM license_usage AS u JOIN license_window_plain_count AS p USING (license_id)
           WHERE u.executions_used <> p.used), 0, 'fast and plain counts agree');

-- No jobs, a limit of 0: nothing used, nothing remains, no slot ever.
SELECT is((SELECT executions_used FROM license_usage WHERE tenant_id = 'window-empty'), 0::bigint, 'empty window');
SELECT is((SELECT executions_remaining FROM license_usage WHERE tenant_id = 'window-empty'), 0::bigint, 'limit 0 leaves nothing');
SELECT is((SELECT next_slot_at FROM license_usage WHERE tenant_id = 'window-empty'), NULL, 'limit 0 has no next slot');

SELECT * FROM finish();
ROLLBACK;
