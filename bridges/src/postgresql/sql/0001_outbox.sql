-- ringbar schema version 1: publish from SQL through an outbox.
--
-- ringbar.publish() checks the topic and queues the event in
-- ringbar.outbox. A deferred trigger numbers each row at COMMIT under a
-- transaction advisory lock, so `seq` follows commit order without gaps
-- the bridge could overtake; rows of a rolled-back transaction never
-- become visible. NOTIFY ringbar_outbox wakes the bridge (it polls too).

CREATE TABLE IF NOT EXISTS ringbar.outbox (
    id bigserial PRIMARY KEY,
    seq bigint UNIQUE,
    topic text NOT NULL,
    args jsonb,
    kwargs jsonb,
    options jsonb,
    queued_at timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE IF NOT EXISTS ringbar.outbox_commit_seq;

CREATE OR REPLACE FUNCTION ringbar.check_uri(uri text, what text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF uri IS NULL OR uri !~ '^([^\s.#]+\.)*[^\s.#]+$' THEN
        RAISE EXCEPTION 'ringbar: % % is not a valid WAMP URI', what, coalesce(quote_literal(uri), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'a URI is dot-separated components without spaces or #, e.g. com.example.event';
    END IF;
    IF uri LIKE 'wamp.%' THEN
        RAISE EXCEPTION 'ringbar: % % is reserved (wamp.*)', what, quote_literal(uri)
            USING ERRCODE = '22023', HINT = 'use a URI of your own, e.g. com.example.event';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION ringbar.check_payload(args jsonb, kwargs jsonb, options jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF args IS NOT NULL AND jsonb_typeof(args) NOT IN ('array', 'null') THEN
        RAISE EXCEPTION 'ringbar: args must be a JSON array, not %', jsonb_typeof(args)
            USING ERRCODE = '22023';
    END IF;
    IF kwargs IS NOT NULL AND jsonb_typeof(kwargs) NOT IN ('object', 'null') THEN
        RAISE EXCEPTION 'ringbar: kwargs must be a JSON object, not %', jsonb_typeof(kwargs)
            USING ERRCODE = '22023';
    END IF;
    IF options IS NOT NULL AND jsonb_typeof(options) NOT IN ('object', 'null') THEN
        RAISE EXCEPTION 'ringbar: options must be a JSON object, not %', jsonb_typeof(options)
            USING ERRCODE = '22023';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION ringbar.publish(
    topic text, args jsonb DEFAULT NULL, kwargs jsonb DEFAULT NULL, options jsonb DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    queued bigint;
BEGIN
    PERFORM ringbar.check_uri(publish.topic, 'topic');
    PERFORM ringbar.check_payload(publish.args, publish.kwargs, publish.options);
    INSERT INTO ringbar.outbox AS o (topic, args, kwargs, options)
        VALUES (publish.topic, publish.args, publish.kwargs, publish.options)
        RETURNING o.id INTO queued;
    PERFORM pg_notify('ringbar_outbox', '');
    RETURN queued;
END
$$;

CREATE OR REPLACE FUNCTION ringbar.outbox_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Held to the end of COMMIT: the next transaction numbers its rows
    -- only once these are visible.
    PERFORM pg_advisory_xact_lock(7306092405476422001);
    UPDATE ringbar.outbox SET seq = nextval('ringbar.outbox_commit_seq') WHERE id = NEW.id;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS outbox_commit ON ringbar.outbox;
CREATE CONSTRAINT TRIGGER outbox_commit AFTER INSERT ON ringbar.outbox
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ringbar.outbox_commit();
