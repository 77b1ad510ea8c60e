"""DuckDB as a benchmark engine: reads one JSON request per line on stdin and
answers one JSON line on stdout. The Rust benchmark times and costs it like
the other engines (CPU and memory of this process from /proc).

  {"setup": ["CREATE VIEW ...", ...]}        -> {"ok": true}
  {"sql": "SELECT ...", "runs": 3}           -> {"times": [s, ...], "rows": n}
Any failure answers {"error": "..."} and the runner keeps reading.
"""
import json
import sys
import time

import duckdb


def main() -> None:
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if "setup" in request:
                for sql in request["setup"]:
                    con.execute(sql)
                answer = {"ok": True}
            else:
                times, rows = [], 0
                for _ in range(request.get("runs", 1)):
                    started = time.perf_counter()
                    rows = con.execute(request["sql"]).to_arrow_table().num_rows
                    times.append(time.perf_counter() - started)
                answer = {"times": times, "rows": rows}
        except Exception as e:  # noqa: BLE001 - every error goes back to the caller
            answer = {"error": str(e).splitlines()[0]}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
