-- Loads a folder of `wsclose analyze --format jsonl` outputs (one file per capture, as
-- fleet/run-local.sh writes them) into DuckDB, and defines the fleet queries as views.
--
--   duckdb fleet.db -c "SET VARIABLE jsonl_dir = 'wsclose-jsonl'" -c ".read fleet/load.sql"
--
-- or, from Python: con.execute("SET VARIABLE jsonl_dir = ?", [dir]); con.execute(open(...).read()).
-- Needs DuckDB 1.1 or later (SET VARIABLE); checked with the Python package duckdb 2.0.0
-- by fleet/check.sh. Every time is UTC.
--
-- The columns are spelled out rather than guessed, so that a change in what wsclose writes
-- shows up here instead of in a wrong chart: a field whose type changed fails the load
-- ("JSON transform error ... Failed to cast"), a required field that is missing or a record
-- type this file does not know fails the checks below, and fields this file does not read
-- (additions, which wsclose makes without changing its schema number) are listed by the
-- view wsclose_unknown_fields. Nested parts kept whole (tls, evidence, proxy, linked_leg,
-- client_observed, server_observed) are JSON values: read them with ->> '$.path'.

SET TimeZone = 'UTC';

CREATE OR REPLACE TABLE wsclose AS
SELECT * REPLACE (timezone('UTC', ts) AS ts)
FROM read_ndjson(
    getvariable('jsonl_dir') || '/*.jsonl',
    format = 'newline_delimited',
    columns = {
        -- JSON schema number, when the record carries one (checked below)
        schema: 'INTEGER',
        -- both record types
        type: 'VARCHAR',            -- close_frame | no_close_frame | file
        file: 'VARCHAR',            -- the capture's path as wsclose was given it
        connection: 'BIGINT',       -- connection number within the file
        client: 'VARCHAR',          -- ip:port
        server: 'VARCHAR',          -- ip:port
        outcome: 'VARCHAR',         -- clean, no_status, one_sided, abnormal, open, refused, tls_failed, encrypted, failed
        frame: 'BIGINT',            -- packet number (1-based)
        ts: 'TIMESTAMPTZ',
        -- close_frame: one Close frame
        direction: 'VARCHAR',       -- client_to_server | server_to_client
        src: 'VARCHAR',
        dst: 'VARCHAR',
        code: 'INTEGER',            -- null for an empty or 1-byte body
        reason: 'VARCHAR',
        reason_hex: 'VARCHAR',
        payload_len: 'INTEGER',
        verdict: 'VARCHAR',         -- legal | illegal
        problems: 'VARCHAR[]',
        peer_reaction: 'VARCHAR',
        explanation: 'STRUCT(lo INTEGER, hi INTEGER, name VARCHAR, wire VARCHAR, source VARCHAR)',
        evidence: 'JSON',
        diagnosis: 'STRUCT(cause VARCHAR, confidence VARCHAR, summary VARCHAR)',
        -- no_close_frame: a connection that ended (or stayed open) without a Close frame
        client_observed: 'JSON',
        server_observed: 'JSON',
        likely_cause: 'VARCHAR',
        cause: 'VARCHAR',           -- a stable name for likely_cause (dropped_without_close, ...)
        proxy: 'JSON',
        idle_timeout: 'STRUCT(seconds DOUBLE, kind VARCHAR, setting VARCHAR, off_ms DOUBLE, confidence VARCHAR)',
        linked_leg: 'JSON',
        tls: 'JSON',
        -- file: one record ending each capture's output (also for captures with no
        -- connection, or that could not be read)
        format: 'VARCHAR',
        gzip: 'BOOLEAN',
        summary: 'JSON',
        warnings: 'JSON',
        error: 'VARCHAR',
        incident: 'JSON'
    }
);

-- One row per capture analysed (its summary, warnings, error and incident summary), apart
-- from the close events.
CREATE OR REPLACE TABLE wsclose_files AS
SELECT file, format, gzip, summary, warnings, error, incident
FROM wsclose WHERE type = 'file';

-- The checks: each fails the script with its message, or returns one NULL row.
SELECT CASE WHEN count(*) > 0 THEN error(format(
    'wsclose JSONL: {} record(s) of a type this file does not know (first: {} in {})',
    count(*), any_value(type), any_value(file))) END AS unknown_record_types
FROM wsclose WHERE type IS NULL OR type NOT IN ('close_frame', 'no_close_frame', 'file');

SELECT CASE WHEN count(*) > 0 THEN error(format(
    'wsclose JSONL: {} record(s) lack file, connection, server, outcome, frame or ts (first in {}): has the schema changed?',
    count(*), any_value(file))) END AS missing_fields
FROM wsclose
WHERE type <> 'file' AND (file IS NULL OR connection IS NULL OR server IS NULL
    OR outcome IS NULL OR frame IS NULL OR ts IS NULL
    OR (type = 'close_frame' AND (direction IS NULL OR verdict IS NULL)));

-- The close events alone from here on.
DELETE FROM wsclose WHERE type = 'file';

SELECT CASE WHEN count(*) > 0 THEN error(format(
    'wsclose JSONL: {} record(s) with schema {} (first in {}); these queries are written for schema 2',
    count(*), any_value(schema), any_value(file))) END AS other_schema
FROM wsclose WHERE schema IS NOT NULL AND schema <> 2;

-- Top-level fields present in the files but not read above (additions to the format).
CREATE OR REPLACE VIEW wsclose_unknown_fields AS
SELECT key, count(*) AS records
FROM (
    SELECT unnest(json_keys(json)) AS key
    FROM read_ndjson_objects(getvariable('jsonl_dir') || '/*.jsonl')
)
WHERE key NOT IN ('schema', 'type', 'file', 'connection', 'client', 'server', 'outcome', 'frame', 'ts',
    'direction', 'src', 'dst', 'code', 'reason', 'reason_hex', 'payload_len', 'verdict',
    'problems', 'peer_reaction', 'explanation', 'evidence', 'diagnosis', 'client_observed',
    'server_observed', 'likely_cause', 'cause', 'proxy', 'idle_timeout', 'linked_leg', 'tls',
    'format', 'gzip', 'summary', 'warnings', 'error', 'incident')
GROUP BY key ORDER BY key;

-- One row per connection. A connection has either Close frame records or one
-- no_close_frame record. Its cause: the diagnosis of its Close (a stable name such as
-- restart or rate_limit), else the stable name of its likely cause (dropped_without_close,
-- reset_after_message, ...), else its likely_cause with packet numbers, times, durations and
-- sizes replaced by N (likely_cause is a sentence naming this connection's packets), else,
-- for Close frames with no diagnosis, the first Close's code.
CREATE OR REPLACE VIEW wsclose_connections AS
WITH c AS (
    SELECT file, connection,
        any_value(client) AS client,
        any_value(server) AS server,
        any_value(outcome) AS outcome,
        max(ts) AS ts,
        count(*) FILTER (WHERE type = 'close_frame') AS close_frames,
        arg_min_null(code, frame) FILTER (WHERE type = 'close_frame') AS first_code,
        arg_min_null(explanation.name, frame) FILTER (WHERE type = 'close_frame') AS first_code_name,
        arg_min_null(direction, frame) FILTER (WHERE type = 'close_frame') AS first_closer,
        any_value(diagnosis.cause) FILTER (WHERE diagnosis.cause IS NOT NULL) AS diagnosis,
        any_value(likely_cause) AS likely_cause,
        any_value(cause) AS drop_cause,
        any_value(tls) FILTER (WHERE tls IS NOT NULL) AS tls
    FROM wsclose
    GROUP BY file, connection
)
SELECT *,
    coalesce(
        diagnosis,
        drop_cause,
        regexp_replace(regexp_replace(regexp_replace(regexp_replace(likely_cause,
            '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z', 'T', 'g'),
            '(packets?|connection) #?[0-9]+', '\1 N', 'g'),
            '[0-9]+(\.[0-9]+)? ?(ms|s|bytes)\b', 'N \2', 'g'),
            '  +', ' ', 'g'),
        CASE WHEN close_frames > 0 THEN format('Close {} ({}) first from the {}',
            coalesce(first_code::VARCHAR, 'without code'), coalesce(first_code_name, 'no status'),
            CASE first_closer WHEN 'client_to_server' THEN 'client' ELSE 'server' END) END
    ) AS cause
FROM c;

-- Fleet query 1: Close frames by code, per hour and server. `started` counts those that
-- began their connection's closing handshake (the first Close of the connection).
CREATE OR REPLACE VIEW closes_by_code_per_hour AS
SELECT date_trunc('hour', ts) AS hour, server, code, explanation.name AS name,
    count(*) AS close_frames,
    count(*) FILTER (WHERE is_first) AS started
FROM (
    SELECT *, frame = min(frame) OVER (PARTITION BY file, connection) AS is_first
    FROM wsclose WHERE type = 'close_frame'
)
GROUP BY ALL
ORDER BY hour, server, code NULLS FIRST;

-- Fleet query 2: the causes that explain most connections, with their share, how many
-- servers and which (at most 3), their time span and one example connection.
CREATE OR REPLACE VIEW top_causes AS
SELECT cause,
    count(*) AS connections,
    round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct,
    count(DISTINCT server) AS servers,
    list_sort(list(DISTINCT server))[1:3] AS some_servers,
    min(ts) AS first, max(ts) AS last,
    arg_min(file || ' #' || connection, ts) AS example
FROM wsclose_connections
WHERE cause IS NOT NULL
GROUP BY cause
ORDER BY connections DESC, cause;

-- Fleet query 3: abnormal drops (no Close frame, TCP ended: applications see 1006) per server.
CREATE OR REPLACE VIEW abnormal_by_server AS
SELECT server, count(*) AS abnormal, min(ts) AS first, max(ts) AS last,
    mode(cause) AS top_cause
FROM wsclose_connections
WHERE outcome = 'abnormal'
GROUP BY server
ORDER BY abnormal DESC, server;

-- Fleet query 4: TLS handshake failures per server (with SNI), by kind and alert.
CREATE OR REPLACE VIEW tls_failures_by_server AS
SELECT server,
    tls ->> '$.sni' AS sni,
    tls ->> '$.failure.kind' AS kind,
    tls ->> '$.failure.alert.name' AS alert,
    count(*) AS failures
FROM wsclose_connections
WHERE tls ->> '$.failure.kind' IS NOT NULL
GROUP BY ALL
ORDER BY failures DESC, server, kind, alert;
