DROP TABLE IF EXISTS admin_keys;
DROP TABLE IF EXISTS signing_keys;
DROP TABLE IF EXISTS license_events;
DROP FUNCTION IF EXISTS license_events_refuse_change();
DROP TABLE IF EXISTS licenses;
DROP FUNCTION IF EXISTS licenses_refuse_delete();
DROP FUNCTION IF EXISTS license_effective_status(text, timestamptz, timestamptz, timestamptz);
