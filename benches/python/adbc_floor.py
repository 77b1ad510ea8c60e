"""Times one statement through the ADBC Flight SQL driver, as a Python user
runs it: execute, then fetch the Arrow table. Prints p50 and p99 as JSON.

  adbc_floor.py grpc://127.0.0.1:50051 1000 "SELECT 1"
"""
import json
import sys
import time
import warnings

import adbc_driver_flightsql.dbapi as flightsql


def main() -> None:
    uri, runs, sql = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    warnings.simplefilter("ignore")  # autocommit cannot be turned off
    with flightsql.connect(uri) as conn:
        cur = conn.cursor()
        for _ in range(min(runs, 50)):
            cur.execute(sql)
            cur.fetch_arrow_table()
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            cur.execute(sql)
            cur.fetch_arrow_table()
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    rank = lambda p: times[max(1, min(len(times), -(-len(times) * p // 100))) - 1]  # noqa: E731
    print(json.dumps({"runs": runs, "p50_ms": rank(50), "p99_ms": rank(99)}))


if __name__ == "__main__":
    main()
