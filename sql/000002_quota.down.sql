-- Reverts 000002_quota: the jobs, applications and idempotency keys are lost.
DROP FUNCTION IF EXISTS licensing_prune_jobs();
DROP VIEW IF EXISTS license_usage;
DROP VIEW IF EXISTS license_window_plain_count;
DROP TABLE IF EXISTS settings;
DROP TABLE IF EXISTS idempotency_keys;
DROP TABLE IF EXISTS jobs;
DROP TABLE IF EXISTS applications;
