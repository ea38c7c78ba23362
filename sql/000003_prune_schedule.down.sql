-- Removes the pg_cron job of 000003. The pg_cron extension itself stays: other
-- jobs of this database may use it, and it was possibly there before.
DO $migration$
BEGIN
    -- Statements naming cron.job are only planned once it is known to exist.
    IF to_regclass('cron.job') IS NULL THEN
        RETURN;
    END IF;
    PERFORM cron.unschedule(j.jobid)
    FROM cron.job AS j
    WHERE j.jobname = 'licensing-prune-jobs';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'could not unschedule licensing-prune-jobs: %', SQLERRM;
END
$migration$;
