-- The table IRL's Kafka Connect sink writes (connect/irl-crm-sink.properties): one row per customer id
-- holding the record of the highest version received for it. scripts/connect.sh runs this (psql,
-- idempotent) before it installs the sink; run it yourself against a CRM database it cannot reach.
--
-- Why not let the sink create the table: Debezium's JDBC sink cannot create a column for an array field
-- that has a default, and every list of ResolvedCustomer has one ([]). Columns are the schema's
-- fields less source_ids, merged_from and window_start (the sink's ReplaceField transform drops them).
CREATE TABLE IF NOT EXISTS ${SCHEMA}.${TABLE} (
    customer_id        text PRIMARY KEY,
    change             text NOT NULL,          -- CREATED, UPDATED, MERGED, SPLIT, ABSORBED or ERASED
    survivor_id        text,                   -- on ABSORBED: the id this one went into
    phones             text[] NOT NULL,
    emails             text[] NOT NULL,
    name               text,
    first_seen         timestamptz,
    last_seen          timestamptz,
    event_count        bigint NOT NULL,
    touchpoints        text[] NOT NULL,
    confidence         double precision NOT NULL,
    confidence_reasons text[] NOT NULL,
    version            bigint NOT NULL,
    change_id          text NOT NULL,
    window_end         timestamptz NOT NULL
);

-- The sink upserts whatever record arrives last. An old record arriving late (a republished batch, a
-- replay of the topic) would then bring back an older state, or the personal data of an erased
-- customer. The contract's rule (docs/crm-connector.md, "Idempotency": a record whose version is not
-- above the one applied changes nothing) is kept here, in the database: such an update is skipped.
CREATE OR REPLACE FUNCTION ${SCHEMA}.irl_keep_newest_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version <= OLD.version THEN
        RETURN NULL;  -- skip this row's update; the newer record stays
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS keep_newest_version ON ${SCHEMA}.${TABLE};
CREATE TRIGGER keep_newest_version BEFORE UPDATE ON ${SCHEMA}.${TABLE}
    FOR EACH ROW EXECUTE FUNCTION ${SCHEMA}.irl_keep_newest_version();
