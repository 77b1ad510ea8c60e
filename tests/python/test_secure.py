"""A secured cluster (users, TLS, cluster secret) through the ADBC driver:
sign-in with a password, refusal without one, queries over TLS."""

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def connect(cluster, user=None, password=None):
    kwargs = {
        "adbc.flight.sql.client_option.tls_root_certs": cluster.ca_pem.decode(),
        "adbc.flight.sql.rpc.with_cookie_middleware": "true",
    }
    if user is not None:
        kwargs["username"] = user
        kwargs["password"] = password
    return flightsql.connect(cluster.uri, db_kwargs=kwargs)


def test_signed_in_user_queries_over_tls(secure_cluster, tmp_path):
    for i in range(2):
        pq.write_table(pa.table({"n": pa.array(range(i * 1000, (i + 1) * 1000), pa.int64())}), tmp_path / f"{i}.parquet")
    with connect(secure_cluster, secure_cluster.user, secure_cluster.password) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE EXTERNAL TABLE numbers STORED AS PARQUET LOCATION '{tmp_path}/'")
        # One task per file: the scan runs on the workers, over TLS, with
        # the cluster secret.
        cur.execute("SET hayate.bytes_per_task = 1")
        cur.execute("SELECT count(*) AS c, sum(n) AS s FROM numbers WHERE n >= 0")
        got = cur.fetch_arrow_table()
        assert got.column("c").to_pylist() == [2000]
        assert got.column("s").to_pylist() == [sum(range(2000))]


def test_wrong_password_is_refused(secure_cluster):
    with pytest.raises(Exception, match="(?i)wrong user name or password|unauthenticated"):
        with connect(secure_cluster, secure_cluster.user, "guess") as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")


def test_no_credentials_is_refused(secure_cluster):
    with pytest.raises(Exception, match="(?i)authentication required|unauthenticated"):
        with connect(secure_cluster) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
