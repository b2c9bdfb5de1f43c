-- agentalias pgstore schema, version 1.
--
-- Every table is keyed by tenant first: every query names its tenant, so no
-- query can reach another tenant's rows. Tenants are bytea (any valid UTF-8,
-- NUL included); keys and ids are text in the "C" collation, so they sort in
-- byte order whatever the database's default collation. Records are the
-- domain values' JSON, as bytea. Times that queries compare are bigint Unix
-- nanoseconds (NULL: never), so they keep the full precision of Go's time.

CREATE TABLE aliases (
    tenant     bytea NOT NULL,
    key        text COLLATE "C" NOT NULL,
    enabled    boolean NOT NULL,
    created_at bigint,
    revision   bigint NOT NULL,
    rec        bytea NOT NULL,
    PRIMARY KEY (tenant, key)
);

CREATE TABLE sessions (
    tenant     bytea NOT NULL,
    key        text COLLATE "C" NOT NULL,
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    alias_key  text COLLATE "C",
    agent_key  text COLLATE "C" NOT NULL,
    enabled    boolean NOT NULL,
    created_at bigint,
    expires_at bigint,
    revision   bigint NOT NULL,
    rec        bytea NOT NULL,
    PRIMARY KEY (tenant, key)
);
-- Creation order, all sessions and by alias or agent: every session list is
-- a keyset scan of one of these.
CREATE INDEX sessions_order ON sessions (tenant, seq);
CREATE INDEX sessions_alias ON sessions (tenant, alias_key, seq) WHERE alias_key IS NOT NULL;
CREATE INDEX sessions_agent ON sessions (tenant, agent_key, seq);
CREATE INDEX sessions_expiry ON sessions (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE events (
    tenant      bytea NOT NULL,
    session_key text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    hidden      boolean NOT NULL,
    rec         bytea NOT NULL,
    PRIMARY KEY (tenant, session_key, id),
    FOREIGN KEY (tenant, session_key) REFERENCES sessions (tenant, key) ON DELETE CASCADE
);
CREATE INDEX events_order ON events (tenant, session_key, seq);

CREATE TABLE artifacts (
    tenant      bytea NOT NULL,
    session_key text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL,
    expires_at  bigint,
    rec         bytea NOT NULL,
    data        bytea NOT NULL,
    PRIMARY KEY (tenant, session_key, id),
    FOREIGN KEY (tenant, session_key) REFERENCES sessions (tenant, key) ON DELETE CASCADE
);
CREATE INDEX artifacts_created ON artifacts (tenant, session_key, created_at, id);
CREATE INDEX artifacts_updated ON artifacts (tenant, session_key, updated_at, id);
CREATE INDEX artifacts_expiry ON artifacts (expires_at) WHERE expires_at IS NOT NULL;

-- One row per (alias, sticky key): the primary key is what makes the first
-- writer of a pin win across every process sharing the database.
CREATE TABLE pins (
    tenant     bytea NOT NULL,
    alias_key  text COLLATE "C" NOT NULL,
    key        bytea NOT NULL,
    agent_key  text COLLATE "C" NOT NULL,
    created_at bigint,
    expires_at bigint,
    PRIMARY KEY (tenant, alias_key, key)
);
CREATE INDEX pins_expiry ON pins (expires_at) WHERE expires_at IS NOT NULL;
