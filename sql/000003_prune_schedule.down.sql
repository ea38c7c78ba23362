-- Removes the pg_cron job of 000003. The pg_cron extension itself stays: other
-- jobs of this database may use it, and it was possibly there before.
DO $migration$
BEGIN
    IF to_regclass('cron.job') IS NOT NULL
       AND EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'licensing-prune-jobs') THEN
        PERFORM cron.unschedule('licensing-prune-jobs');
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'could not unschedule licensing-prune-jobs: %', SQLERRM;
END
$migration$;
