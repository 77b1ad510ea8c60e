"""Hayate through the reference Flight SQL client: the ADBC driver."""

import json

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

# Keep one session per connection (the coordinator sets a session cookie),
# so that SET applies to the statements that follow it.
SESSION = {"adbc.flight.sql.rpc.with_cookie_middleware": "true"}


def connect(uri):
    return flightsql.connect(uri, db_kwargs=SESSION)


@pytest.fixture()
def events(tmp_path):
    """A Parquet directory of three files, and the same data as one table."""
    parts = []
    for i in range(3):
        n = 5000
        part = pa.table(
            {
                "id": pa.array(range(i * n, (i + 1) * n), pa.int64()),
                "service": pa.array([f"svc-{(j * 7 + i) % 5}" for j in range(n)]),
                "status": pa.array([200 if j % 10 else 500 for j in range(n)], pa.int32()),
                "latency_ms": pa.array([float((j * 37) % 1000) / 10.0 for j in range(n)]),
            }
        )
        pq.write_table(part, tmp_path / f"part-{i}.parquet")
        parts.append(part)
    return tmp_path, pa.concat_tables(parts)


def test_create_table_and_query_match_pyarrow(cluster, events):
    path, table = events
    with connect(cluster) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE EXTERNAL TABLE events STORED AS PARQUET LOCATION '{path}/'")
        cur.execute("SET hayate.bytes_per_task = 1")
        cur.execute(
            "SELECT service, count(*) AS n, sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END) AS errors, "
            "avg(latency_ms) AS avg_latency FROM events GROUP BY service ORDER BY service"
        )
        got = cur.fetch_arrow_table()

    expected = (
        table.append_column("error", pc.cast(pc.greater_equal(table["status"], 500), pa.int64()))
        .group_by("service")
        .aggregate([("id", "count"), ("error", "sum"), ("latency_ms", "mean")])
        .sort_by("service")
    )
    assert got.column("service").to_pylist() == expected.column("service").to_pylist()
    assert got.column("n").to_pylist() == expected.column("id_count").to_pylist()
    assert got.column("errors").to_pylist() == expected.column("error_sum").to_pylist()
    for a, b in zip(got.column("avg_latency").to_pylist(), expected.column("latency_ms_mean").to_pylist()):
        assert abs(a - b) < 1e-9


def test_metadata_and_explain(cluster, events):
    path, _ = events
    with connect(cluster) as conn, conn.cursor() as cur:
        cur.execute("SET hayate.bytes_per_task = 1")
        cur.execute(f"CREATE EXTERNAL TABLE IF NOT EXISTS events2 STORED AS PARQUET LOCATION '{path}/'")
        schema = conn.adbc_get_table_schema("events2")
        assert schema.names == ["id", "service", "status", "latency_ms"]
        objects = conn.adbc_get_objects(depth="tables").read_all().to_pylist()
        tables = {
            t["table_name"]
            for catalog in objects
            for db in catalog["catalog_db_schemas"] or []
            for t in db["db_schema_tables"] or []
        }
        assert "events2" in tables
        cur.execute("EXPLAIN SELECT service, count(*) FROM events2 GROUP BY service")
        plan = "\n".join(cur.fetch_arrow_table().column("plan").to_pylist())
        assert "Stage" in plan and "shuffle" in plan


def test_errors_keep_the_server_running(cluster):
    with flightsql.connect(cluster) as conn, conn.cursor() as cur:
        with pytest.raises(Exception, match="no_such_table"):
            cur.execute("SELECT * FROM no_such_table")
            cur.fetchall()
    with flightsql.connect(cluster) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 + 1 AS two")
        assert cur.fetchall() == [(2,)]


def test_settings_stay_in_a_cookie_session(cluster):
    """Clients that keep cookies keep their session, and with it SET."""
    with connect(cluster) as conn, conn.cursor() as cur:
        cur.execute("SET datafusion.execution.batch_size = 321")
        cur.fetchall()
        cur.execute("SHOW datafusion.execution.batch_size")
        assert cur.fetch_arrow_table().column("value").to_pylist() == ["321"]
    with connect(cluster) as conn, conn.cursor() as cur:
        cur.execute("SHOW datafusion.execution.batch_size")
        assert cur.fetch_arrow_table().column("value").to_pylist() == ["8192"]


def test_a_connection_without_cookies_keeps_its_session(cluster):
    """ADBC keeps no cookies unless told to: its statements on one connection
    still share a session (SET applies to what follows, as in DataFusion),
    and another connection starts from the defaults."""
    with flightsql.connect(cluster) as conn, conn.cursor() as cur:
        cur.execute("SET datafusion.execution.time_zone = '+05:00'")
        cur.fetchall()
        cur.execute("SET datafusion.sql_parser.dialect = 'DuckDB'")
        cur.fetchall()
        cur.execute("SELECT arrow_typeof(now()) AS t, '2024-03-10T01:30:00'::timestamptz AS at")
        row = cur.fetch_arrow_table().to_pylist()[0]
        assert row["t"] == 'Timestamp(ns, "+05:00")'
        assert row["at"].isoformat() == "2024-03-10T01:30:00+05:00"
        # DuckDB's spelling of a struct type parses in this session only.
        cur.execute("SELECT CAST(NULL AS struct(a int)) IS NULL AS n")
        assert cur.fetchall() == [(True,)]
    with flightsql.connect(cluster) as conn, conn.cursor() as cur:
        cur.execute("SELECT arrow_typeof(now()) AS t")
        assert cur.fetchall() == [("Timestamp(ns)",)]


def test_prepared_statements_bind_parameters(cluster):
    """Parameters bound by the driver, with `?` and `$n` placeholders: a
    query takes one row, an insert runs once per row."""
    with connect(cluster) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE params_t (id BIGINT, name VARCHAR)")
        cur.executemany("INSERT INTO params_t VALUES (?, ?)", [(1, "a"), (2, "b"), (3, "ü")])
        assert cur.rowcount == 3
        cur.execute("SELECT name FROM params_t WHERE id >= ? ORDER BY id", (2,))
        assert cur.fetchall() == [("b",), ("ü",)]
        cur.execute("SELECT $1 + 1 AS x, $2 AS s", (41, "ü"))
        assert cur.fetch_arrow_table().to_pylist() == [{"x": 42, "s": "ü"}]
        cur.execute("SELECT ? IS NULL AS q, ? * 2 AS d", (None, 21))
        assert cur.fetchall() == [(True, 42)]
        # A value the placeholder's type cannot hold is refused, not cut.
        with pytest.raises(Exception, match="does not fit"):
            cur.execute("SELECT ? * 2 AS d", (1.5,))
            cur.fetchall()
        # A bad value is the statement's fault, and the session goes on.
        with pytest.raises(Exception, match="(?i)cast|invalid"):
            cur.execute("SELECT name FROM params_t WHERE id = ?", ("not a number",))
            cur.fetchall()
        cur.execute("SELECT count(*) FROM params_t")
        assert cur.fetchall() == [(3,)]


def test_session_options_set_what_sql_set_does(cluster):
    """ADBC's session options reach the session as SET would, time zone
    included, and say which option was wrong."""
    with flightsql.connect(cluster) as conn, conn.cursor() as cur:
        prefix = "adbc.flight.sql.session.option."
        conn.adbc_connection.set_options(
            **{prefix + "datafusion.execution.time_zone": "+05:00", prefix + "hayate.bytes_per_task": "1"}
        )
        cur.execute("SELECT arrow_typeof(now()) AS t")
        assert cur.fetchall() == [('Timestamp(ns, "+05:00")',)]
        options = json.loads(conn.adbc_connection.get_option("adbc.flight.sql.session.options"))
        assert options["hayate.bytes_per_task"] == "1"
        assert options["datafusion.execution.time_zone"] == "+05:00"
        with pytest.raises(Exception, match="no.such.setting.*invalid name"):
            conn.adbc_connection.set_options(**{prefix + "no.such.setting": "1"})
        with pytest.raises(Exception, match="batch_size.*invalid value"):
            conn.adbc_connection.set_options(**{prefix + "datafusion.execution.batch_size": "lots"})


def test_pandas_and_polars_read_through_adbc(cluster, events):
    """The dataframe libraries' own ADBC paths: pandas through the cursor,
    polars through `read_database` on the connection."""
    import pandas as pd
    import polars as pl

    path, table = events
    sql = "SELECT service, count(*) AS n FROM events_df GROUP BY service ORDER BY service"
    expected = table.group_by("service").aggregate([("id", "count")]).sort_by("service")
    with connect(cluster) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE EXTERNAL TABLE IF NOT EXISTS events_df STORED AS PARQUET LOCATION '{path}/'")
        cur.execute(sql)
        frame = cur.fetch_df()
        assert isinstance(frame, pd.DataFrame)
        assert frame["service"].tolist() == expected.column("service").to_pylist()
        assert frame["n"].tolist() == expected.column("id_count").to_pylist()
        polars_frame = pl.read_database(sql, connection=conn)
        assert polars_frame["service"].to_list() == expected.column("service").to_pylist()
        assert polars_frame["n"].to_list() == expected.column("id_count").to_pylist()


def test_a_write_runs_when_it_is_submitted(cluster):
    """`execute` of an INSERT writes its rows even if its answer is never
    fetched, and a bad one fails at once."""
    with connect(cluster) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE written_t (id BIGINT)")
        cur.execute("INSERT INTO written_t VALUES (1), (2)")
        cur.execute("INSERT INTO written_t VALUES (3)")
        assert cur.fetchall() == [(1,)]
        with pytest.raises(Exception, match="(?i)cast"):
            cur.execute("INSERT INTO written_t VALUES ('x')")
        cur.execute("SELECT count(*) FROM written_t")
        assert cur.fetchall() == [(3,)]


def test_system_tables_list_the_users_queries_and_join_user_tables(cluster, events):
    """What a Python user sees of their own queries through SQL: the query
    they ran in system.queries, finished, with its rows; and a system table
    joined with a Parquet table."""
    path, _table = events
    with connect(cluster) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE EXTERNAL TABLE IF NOT EXISTS sys_events STORED AS PARQUET LOCATION '{path}'")
        cur.execute("SELECT count(*) AS n FROM sys_events WHERE 42 = 42")
        n = cur.fetch_arrow_table().column("n").to_pylist()[0]
        cur.execute(
            "SELECT state, rows, error FROM system.queries "
            "WHERE sql = 'SELECT count(*) AS n FROM sys_events WHERE 42 = 42'"
        )
        assert cur.fetch_arrow_table().to_pylist() == [{"state": "finished", "rows": 1, "error": None}]
        cur.execute(
            "SELECT t.files, count(*) AS n FROM sys_events e "
            "JOIN system.tables t ON t.\"table\" = 'sys_events' GROUP BY t.files"
        )
        joined = cur.fetch_arrow_table().to_pylist()
        assert len(joined) == 1 and joined[0]["n"] == n and joined[0]["files"] >= 1
