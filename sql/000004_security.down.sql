-- Reverts 000004_security. The role licensing_app is kept: roles belong to
-- the whole cluster, and other databases may use it; drop it by hand when no
-- database does (DROP ROLE licensing_app). Its grants in this database go.
REVOKE EXECUTE ON FUNCTION licensing_prune_jobs() FROM licensing_app;
GRANT EXECUTE ON FUNCTION licensing_prune_jobs() TO PUBLIC;
ALTER FUNCTION licensing_prune_jobs() SECURITY INVOKER RESET search_path;

ALTER VIEW license_window_plain_count RESET (security_invoker);
ALTER VIEW license_usage RESET (security_invoker);

DROP POLICY IF EXISTS idempotency_keys_of_current_license ON idempotency_keys;
ALTER TABLE idempotency_keys DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS jobs_of_current_license ON jobs;
ALTER TABLE jobs DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS applications_of_current_license ON applications;
ALTER TABLE applications DISABLE ROW LEVEL SECURITY;
DROP FUNCTION IF EXISTS licensing_current_license();
DROP FUNCTION IF EXISTS licensing_all_licenses();

REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM licensing_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM licensing_app;
REVOKE USAGE ON SCHEMA public FROM licensing_app;

DROP TABLE IF EXISTS auth_failures;
