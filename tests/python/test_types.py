"""Arrow types over the wire, as the ADBC driver reads them: nested types,
dictionaries, large lists and zoned timestamps arrive with the types
DataFusion gives them, the schema a statement declares is the schema its
rows carry, and nested values survive Parquet scans and shuffles between
worker processes."""

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import pyarrow.parquet as pq

SESSION = {"adbc.flight.sql.rpc.with_cookie_middleware": "true"}


def test_nested_dictionary_and_large_types_arrive_as_declared(cluster):
    sql = (
        "SELECT named_struct('a', 1, 'b', make_array(1, NULL)) AS s, "
        "arrow_cast('x', 'Dictionary(Int32, Utf8)') AS d, "
        "arrow_cast(make_array(1, 2), 'LargeList(Int64)') AS l, "
        "MAP {'k': 1} AS m, "
        "arrow_cast(TIMESTAMP '2024-01-01 00:00:00', 'Timestamp(Microsecond, Some(\"+02:00\"))') AS t, "
        "arrow_cast(1.25, 'Decimal128(10, 2)') AS n"
    )
    with flightsql.connect(cluster, db_kwargs=SESSION) as conn, conn.cursor() as cur:
        declared = cur.adbc_execute_schema(sql)
        cur.execute(sql)
        got = cur.fetch_arrow_table()

    types = {f.name: f.type for f in got.schema}
    assert types["s"] == pa.struct([("a", pa.int64()), ("b", pa.list_(pa.int64()))])
    assert types["d"] == pa.dictionary(pa.int32(), pa.string())
    assert types["l"] == pa.large_list(pa.int64())
    assert pa.types.is_map(types["m"])
    assert (types["m"].key_type, types["m"].item_type) == (pa.string(), pa.int64())
    assert types["t"] == pa.timestamp("us", tz="+02:00")
    assert types["n"] == pa.decimal128(10, 2)
    assert [f.type for f in declared] == [f.type for f in got.schema]

    row = got.to_pylist()[0]
    assert row["s"] == {"a": 1, "b": [1, None]}
    assert row["d"] == "x"
    assert row["l"] == [1, 2]
    assert row["m"] == [("k", 1)]
    assert row["t"].isoformat() == "2024-01-01T00:00:00+02:00"
    assert str(row["n"]) == "1.25"


def test_nested_parquet_columns_survive_scans_and_shuffles(cluster, tmp_path):
    person = pa.struct([("name", pa.string()), ("tags", pa.list_(pa.string()))])
    rows = 3000
    for part in range(3):
        ids = range(part * rows, (part + 1) * rows)
        table = pa.table(
            {
                "id": pa.array(ids, pa.int64()),
                "person": pa.array(
                    [None if i % 7 == 0 else {"name": f"n{i % 11}", "tags": [f"t{i % 3}"] * (i % 4)} for i in ids],
                    person,
                ),
                "scores": pa.array([None if i % 5 == 0 else [i % 13, None] for i in ids], pa.large_list(pa.int32())),
            }
        )
        pq.write_table(table, tmp_path / f"part-{part}.parquet")
    everything = pa.concat_tables(pq.read_table(tmp_path / f"part-{p}.parquet") for p in range(3)).to_pylist()

    with flightsql.connect(cluster, db_kwargs=SESSION) as conn, conn.cursor() as cur:
        cur.execute("SET hayate.bytes_per_task = 1")
        cur.execute(f"CREATE EXTERNAL TABLE nested_people STORED AS PARQUET LOCATION '{tmp_path}/'")
        cur.execute(
            "SELECT person['name'] AS name, count(*) AS n, array_agg(DISTINCT scores[1]) AS firsts "
            "FROM nested_people GROUP BY person['name'] ORDER BY name NULLS FIRST"
        )
        grouped = cur.fetch_arrow_table()
        cur.execute("SELECT id, person, scores FROM nested_people ORDER BY id")
        scanned = cur.fetch_arrow_table()

    assert scanned.schema.field("person").type == person
    assert scanned.schema.field("scores").type == pa.large_list(pa.int32())
    assert scanned.to_pylist() == everything

    expected = {}
    for r in everything:
        name = r["person"]["name"] if r["person"] else None
        count, firsts = expected.get(name, (0, set()))
        firsts.add(r["scores"][0] if r["scores"] else None)
        expected[name] = (count + 1, firsts)
    got = {r["name"]: (r["n"], set(r["firsts"])) for r in grouped.to_pylist()}
    assert got == expected
