-- Schedules licensing_prune_jobs() every 10 minutes with pg_cron, when this
-- database is the one pg_cron serves (cron.database_name) and the extension is
-- installed or can be created. Anywhere else it does nothing and the server's
-- pruner runs the same function on a timer under an advisory lock.
DO $migration$
BEGIN
    IF current_setting('cron.database_name', true) IS DISTINCT FROM current_database()
       OR NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_cron') THEN
        RAISE NOTICE 'pg_cron does not serve this database; the server prunes jobs itself';
        RETURN;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_cron;
        PERFORM cron.schedule('licensing-prune-jobs', '*/10 * * * *', 'SELECT licensing_prune_jobs()');
    EXCEPTION WHEN insufficient_privilege THEN
        -- Creating pg_cron needs a superuser; without one the server prunes.
        RAISE NOTICE 'pg_cron could not be set up (%); the server prunes jobs itself', SQLERRM;
    END;
END
$migration$;
