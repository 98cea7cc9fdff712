-- EmbryoGrade lab server, schema version 1. Applied by `main.py server init`
-- as the database owner (the lab admin's login), never by a superuser.
-- Append-only: revisions, images and image locations are inserted, never
-- updated or deleted (privileges + triggers that refuse even the owner).

CREATE TABLE schema_version (
    version    integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL DEFAULT session_user
);

CREATE TABLE images (
    sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    height      integer NOT NULL CHECK (height > 0),
    width       integer NOT NULL CHECK (width > 0),
    channels    integer NOT NULL CHECK (channels IN (1, 3)),
    dtype       text NOT NULL CHECK (dtype IN ('uint8', 'uint16')),
    pixels      bytea NOT NULL,   -- zlib of the C-order array: training needs no workstation disk
    first_by    text NOT NULL DEFAULT session_user,
    first_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Where each workstation has seen an image (one image may live at several paths).
CREATE TABLE image_locations (
    sha256      text NOT NULL REFERENCES images,
    workstation text NOT NULL,
    path        text NOT NULL,
    size_bytes  bigint,
    seen_by     text NOT NULL DEFAULT session_user,
    seen_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (sha256, workstation, path)
);

CREATE SEQUENCE revision_seq;

CREATE TABLE revisions (
    seq               bigint PRIMARY KEY,        -- set by the trigger, in commit order per image
    uuid              uuid NOT NULL UNIQUE,      -- chosen by the client: a resent journal entry is a no-op
    sha256            text NOT NULL REFERENCES images,
    previous_seq      bigint REFERENCES revisions,  -- the image's current revision when this one was written
    path              text NOT NULL CHECK (path <> ''),
    workstation       text NOT NULL,
    status            text NOT NULL CHECK (status IN ('reviewed', 'corrected', 'grade-only', 'withdrawn')),
    annotator         text NOT NULL,             -- session_user, set by the trigger
    recorded_at       timestamptz NOT NULL,      -- server clock, set by the trigger
    client_time       timestamptz,               -- the workstation's clock at save (journal: earlier)
    grade             text,
    scheme            text,
    fragment_fraction double precision CHECK (fragment_fraction BETWEEN 0 AND 1),
    grade_reason      text CHECK (grade_reason IN ('mask wrong', 'image poor', 'other')),
    reason_text       text NOT NULL DEFAULT '',
    model_version     text NOT NULL DEFAULT '',
    app_version       text NOT NULL DEFAULT '',
    mask              bytea,                     -- zlib of uint8 HxW, 0/1/2
    model_mask        bytea,
    extra             jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX revisions_by_image ON revisions (sha256, seq DESC);

-- Who and when come from the server, never from the client; revisions of one
-- image are numbered under a per-image lock, so seq order is commit order.
CREATE FUNCTION revisions_stamp() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('embryograde:' || NEW.sha256, 0));
    NEW.seq := nextval('revision_seq');
    NEW.annotator := session_user;
    NEW.recorded_at := clock_timestamp();
    SELECT max(r.seq) INTO NEW.previous_seq FROM revisions r WHERE r.sha256 = NEW.sha256;
    RETURN NEW;
END $$;
CREATE TRIGGER revisions_stamp BEFORE INSERT ON revisions
    FOR EACH ROW EXECUTE FUNCTION revisions_stamp();

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'EmbryoGrade: % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER revisions_append_only BEFORE UPDATE OR DELETE ON revisions
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER revisions_no_truncate BEFORE TRUNCATE ON revisions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER images_append_only BEFORE UPDATE OR DELETE ON images
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER images_no_truncate BEFORE TRUNCATE ON images
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER locations_append_only BEFORE UPDATE OR DELETE ON image_locations
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER locations_no_truncate BEFORE TRUNCATE ON image_locations
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- The lab's model versions, as an append-only log of status changes by lab admins.
CREATE TABLE model_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version     text NOT NULL CHECK (version <> ''),
    status      text NOT NULL CHECK (status IN ('candidate', 'accepted', 'active', 'rejected', 'retired')),
    note        text NOT NULL DEFAULT '',
    metadata    jsonb NOT NULL DEFAULT '{}',
    by_user     text NOT NULL DEFAULT session_user,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TRIGGER model_events_append_only BEFORE UPDATE OR DELETE ON model_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Group roles (NOLOGIN); people log in with their own roles, members of one of these.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'embryograde_annotator') THEN
        CREATE ROLE embryograde_annotator NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'embryograde_labadmin') THEN
        CREATE ROLE embryograde_labadmin NOLOGIN;
    END IF;
END $$;
GRANT embryograde_annotator TO embryograde_labadmin;

REVOKE ALL ON schema_version, images, image_locations, revisions, model_events FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO embryograde_annotator;
GRANT SELECT ON schema_version, images, image_locations, revisions, model_events TO embryograde_annotator;
GRANT INSERT ON images, image_locations, revisions TO embryograde_annotator;
GRANT INSERT ON model_events TO embryograde_labadmin;
-- A trigger function as SECURITY DEFINER would otherwise be callable by anyone.
REVOKE ALL ON FUNCTION revisions_stamp() FROM PUBLIC;

INSERT INTO schema_version (version) VALUES (1);
