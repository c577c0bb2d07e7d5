-- ringbar schema version 2: SQL calls WAMP procedures.
--
-- ringbar.call() checks the procedure and queues the call in
-- ringbar.calls; it is seen by the bridge only once its transaction
-- commits. The bridge claims it (state 'running'), performs it, writes
-- the result or the error, and NOTIFYs ringbar_call_done with the id.

CREATE TABLE IF NOT EXISTS ringbar.calls (
    id bigserial PRIMARY KEY,
    procedure text NOT NULL,
    args jsonb,
    kwargs jsonb,
    timeout_ms integer,
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'failed')),
    result_args jsonb,
    result_kwargs jsonb,
    error text,
    error_args jsonb,
    queued_at timestamptz NOT NULL DEFAULT now(),
    done_at timestamptz
);

CREATE INDEX IF NOT EXISTS calls_queued ON ringbar.calls (id) WHERE state = 'queued';

CREATE OR REPLACE FUNCTION ringbar.call(
    procedure text, args jsonb DEFAULT NULL, kwargs jsonb DEFAULT NULL, timeout_ms integer DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    queued bigint;
BEGIN
    PERFORM ringbar.check_uri(call.procedure, 'procedure');
    PERFORM ringbar.check_payload(call.args, call.kwargs, NULL);
    IF call.timeout_ms IS NOT NULL AND call.timeout_ms <= 0 THEN
        RAISE EXCEPTION 'ringbar: timeout_ms must be positive, not %', call.timeout_ms
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO ringbar.calls AS c (procedure, args, kwargs, timeout_ms)
        VALUES (call.procedure, call.args, call.kwargs, call.timeout_ms)
        RETURNING c.id INTO queued;
    PERFORM pg_notify('ringbar_calls', '');
    RETURN queued;
END
$$;

CREATE OR REPLACE FUNCTION ringbar.call_result(id bigint)
RETURNS TABLE (state text, args jsonb, kwargs jsonb, error text, error_args jsonb)
LANGUAGE sql STABLE AS $$
    SELECT c.state, c.result_args, c.result_kwargs, c.error, c.error_args
    FROM ringbar.calls c WHERE c.id = call_result.id
$$;
