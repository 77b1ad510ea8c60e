//! The log query suite: the questions people ask of logs, over the default
//! spec's week (2026-11-01 to 2026-11-07, UTC). Each is run through Hayate
//! and single-node DataFusion and the answers compared.

/// One question.
pub struct LogQuery {
    pub name: &'static str,
    pub sql: &'static str,
    /// Whether the answer's row order is part of it (an ORDER BY over
    /// unique keys).
    pub ordered: bool,
}

/// `CREATE EXTERNAL TABLE` for logs under `location`, partitioned by day
/// and hour (`PARTITIONED BY (dt, hour)`), with `options` appended to its
/// `OPTIONS` (for example `'aws.endpoint' '...'`, or Hayate's
/// [`TIME_COLUMN`] option).
/// Hayate's option that makes a filter on `ts` select `dt`/`hour`
/// partitions too.
pub const TIME_COLUMN: (&str, &str) = ("hayate.time_column", "ts");

pub fn create_table_sql(name: &str, location: &str, options: &[(&str, &str)]) -> String {
    let location = if location.ends_with('/') {
        location.to_string()
    } else {
        format!("{location}/")
    };
    let mut sql = format!(
        "CREATE EXTERNAL TABLE {name} STORED AS PARQUET PARTITIONED BY (dt, hour) LOCATION '{location}'"
    );
    if !options.is_empty() {
        let pairs: Vec<String> = options
            .iter()
            .map(|(k, v)| format!("'{k}' '{v}'"))
            .collect();
        sql.push_str(&format!(" OPTIONS ({})", pairs.join(", ")));
    }
    sql
}

pub const SUITE: &[LogQuery] = &[
    LogQuery {
        name: "errors_last_hour_by_service",
        sql: "SELECT service, count(*) AS errors FROM logs \
              WHERE ts >= TIMESTAMP '2026-11-07T23:00:00Z' AND level = 'ERROR' \
              GROUP BY service ORDER BY errors DESC, service",
        ordered: true,
    },
    LogQuery {
        name: "errors_around_midnight",
        sql: "SELECT service, status, count(*) AS errors FROM logs \
              WHERE ts BETWEEN TIMESTAMP '2026-11-05T23:30:00Z' AND TIMESTAMP '2026-11-06T00:29:59.999999Z' \
                AND status >= 500 \
              GROUP BY service, status ORDER BY service, status",
        ordered: true,
    },
    LogQuery {
        name: "one_hour_summary",
        sql: "SELECT service, count(*) AS requests, sum(bytes) AS bytes, avg(latency_ms) AS avg_ms FROM logs \
              WHERE ts >= TIMESTAMP '2026-11-07T12:00:00Z' AND ts < TIMESTAMP '2026-11-07T13:00:00Z' \
              GROUP BY service ORDER BY service",
        ordered: true,
    },
    LogQuery {
        name: "full_scan_summary",
        sql: "SELECT service, count(*) AS requests, sum(bytes) AS bytes, avg(latency_ms) AS avg_ms FROM logs \
              GROUP BY service ORDER BY service",
        ordered: true,
    },
    LogQuery {
        name: "top_paths_by_p99_latency",
        sql: "SELECT path, count(*) AS requests, \
                     percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99_ms \
              FROM logs WHERE ts >= TIMESTAMP '2026-11-07T00:00:00Z' AND ts < TIMESTAMP '2026-11-08T00:00:00Z' \
              GROUP BY path HAVING count(*) >= 20 ORDER BY p99_ms DESC, path LIMIT 10",
        ordered: true,
    },
    LogQuery {
        name: "status_histogram_per_5_minutes",
        sql: "SELECT date_bin(INTERVAL '5 minutes', ts, TIMESTAMP '2026-11-01T00:00:00Z') AS bucket, \
                     status, count(*) AS requests FROM logs \
              WHERE ts >= TIMESTAMP '2026-11-06T18:00:00Z' AND ts < TIMESTAMP '2026-11-06T20:00:00Z' \
              GROUP BY 1, 2 ORDER BY 1, 2",
        ordered: true,
    },
    LogQuery {
        name: "distinct_client_ips_per_day",
        sql: "SELECT dt, count(DISTINCT client_ip) AS clients FROM logs GROUP BY dt ORDER BY dt",
        ordered: true,
    },
    LogQuery {
        name: "latest_100_timeouts",
        sql: "SELECT ts, host, path, status, message FROM logs \
              WHERE message LIKE '%timeout%' OR message LIKE '%unavailable%' \
              ORDER BY ts DESC, trace_id LIMIT 100",
        ordered: true,
    },
    LogQuery {
        name: "latest_100_lines",
        sql: "SELECT ts, service, host, status, path FROM logs ORDER BY ts DESC, trace_id LIMIT 100",
        ordered: true,
    },
    LogQuery {
        name: "one_trace",
        sql: "SELECT ts, service, host, method, path, status, latency_ms FROM logs \
              WHERE trace_id = '4a7d1ed414474e4033ac29ccb8653d9b' ORDER BY ts, service",
        ordered: true,
    },
    LogQuery {
        name: "drill_down_day_to_hosts",
        sql: "SELECT host, count(*) AS requests, sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END) AS errors, \
                     max(latency_ms) AS max_ms FROM logs \
              WHERE ts >= TIMESTAMP '2026-11-06T00:00:00Z' AND ts < TIMESTAMP '2026-11-07T00:00:00Z' \
                AND service = 'payments' \
              GROUP BY host ORDER BY errors DESC, host",
        ordered: true,
    },
    LogQuery {
        name: "drill_down_one_host_by_minute",
        sql: "SELECT date_trunc('minute', ts) AS minute, count(*) AS requests, \
                     sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END) AS errors FROM logs \
              WHERE ts >= TIMESTAMP '2026-11-06T14:00:00Z' AND ts < TIMESTAMP '2026-11-06T15:00:00Z' \
                AND host = 'payments-03' \
              GROUP BY 1 ORDER BY 1",
        ordered: true,
    },
    LogQuery {
        name: "top_clients_by_errors",
        sql: "SELECT client_ip, count(*) AS errors FROM logs \
              WHERE status >= 400 AND dt = '2026-11-05' \
              GROUP BY client_ip ORDER BY errors DESC, client_ip LIMIT 20",
        ordered: true,
    },
];

/// Questions about the JSON `attributes` of log lines, with the functions
/// of `datafusion-functions-json` (engines without them, DuckDB among them,
/// spell these differently). Each also filters on plain columns, whose
/// statistics still skip files and row groups.
pub const JSON_SUITE: &[LogQuery] = &[
    LogQuery {
        name: "json_error_codes_of_one_service_and_day",
        sql: "SELECT json_get_str(attributes, 'error', 'code') AS code, \
                     json_get_bool(attributes, 'error', 'retryable') AS retryable, count(*) AS lines \
              FROM logs WHERE ts >= TIMESTAMP '2026-11-06T00:00:00Z' AND ts < TIMESTAMP '2026-11-07T00:00:00Z' \
                AND service = 'payments' AND json_contains(attributes, 'error') \
              GROUP BY 1, 2 ORDER BY 1, 2",
        ordered: true,
    },
    LogQuery {
        name: "json_requests_by_user_tier_in_one_hour",
        sql: "SELECT attributes->'user'->>'tier' AS tier, count(*) AS requests, \
                     avg(latency_ms) AS avg_ms FROM logs \
              WHERE ts >= TIMESTAMP '2026-11-07T12:00:00Z' AND ts < TIMESTAMP '2026-11-07T13:00:00Z' \
              GROUP BY 1 ORDER BY 1 NULLS FIRST",
        ordered: true,
    },
    LogQuery {
        name: "json_request_ids_with_a_rare_prefix",
        sql: "SELECT ts, service, json_get_str(attributes, 'request', 'id') AS request_id FROM logs \
              WHERE json_get_str(attributes, 'request', 'id') LIKE 'req-000%' \
              ORDER BY ts, request_id",
        ordered: true,
    },
];
