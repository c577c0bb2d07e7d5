-- ringbar schema version 3: calls of a bridge that died are finished.
--
-- A bridge claims a call with the backend PID of its connection
-- (claimed_by) and holds the advisory lock (1919050604, PID) for as long
-- as that connection lives. A 'running' call whose claimer holds no such
-- lock any more was cut off (the bridge was killed, or lost the
-- database): a bridge finishes it as 'failed' with
-- ringbar.error.bridge_lost. It is never performed again: a WAMP call is
-- not idempotent, and it may or may not have run.

ALTER TABLE ringbar.calls ADD COLUMN IF NOT EXISTS claimed_by integer;

CREATE INDEX IF NOT EXISTS calls_running ON ringbar.calls (id) WHERE state = 'running';
