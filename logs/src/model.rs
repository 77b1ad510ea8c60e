//! What a log line looks like and how often: services and their hosts, a
//! few hot paths and a long tail, mostly 2xx, incidents that burst 5xx and
//! slow one service down, log-normal latencies with a heavy tail, a few
//! heavy clients among many.

use std::sync::LazyLock;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A trace whose events the generator plants on 2026-11-05 at 14:23 UTC
/// (or in the first hour of shorter data), across five services, so that
/// "one trace's events" has a known answer.
pub const PROBE_TRACE_ID: &str = "4a7d1ed414474e4033ac29ccb8653d9b";

pub const SERVICES: &[(&str, u32)] = &[
    ("api", 30),
    ("web", 25),
    ("auth", 12),
    ("search", 10),
    ("checkout", 8),
    ("payments", 6),
    ("inventory", 6),
    ("notifications", 3),
];
pub const HOSTS_PER_SERVICE: u32 = 6;

const METHODS: &[(&str, u32)] = &[
    ("GET", 70),
    ("POST", 20),
    ("PUT", 5),
    ("DELETE", 3),
    ("PATCH", 2),
];

/// Path templates; `{id}` becomes a number. Earlier paths are hotter (Zipf).
const PATHS: &[&str] = &[
    "/api/v1/health",
    "/",
    "/api/v1/users/{id}",
    "/api/v1/search",
    "/static/app.js",
    "/api/v1/products/{id}",
    "/login",
    "/api/v1/cart",
    "/static/app.css",
    "/api/v1/orders/{id}",
    "/api/v1/checkout",
    "/api/v1/payments",
    "/api/v1/inventory/{id}",
    "/api/v1/recommendations",
    "/api/v1/notifications",
    "/api/v1/sessions",
    "/api/v1/users/{id}/settings",
    "/api/v1/orders",
    "/api/v2/search",
    "/images/{id}.png",
    "/api/v1/reviews/{id}",
    "/api/v1/coupons",
    "/logout",
    "/api/v1/export",
    "/admin",
    "/api/v1/reports/daily",
    "/robots.txt",
    "/favicon.ico",
    "/api/v1/webhooks",
    "/api/internal/reindex",
];

const STATUS: &[(i32, u32)] = &[
    (200, 8800),
    (201, 300),
    (204, 200),
    (301, 100),
    (304, 200),
    (400, 150),
    (401, 80),
    (403, 40),
    (404, 150),
    (429, 30),
    (500, 30),
    (502, 10),
    (503, 10),
];

const AGENTS: &[(&str, u32)] = &[
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
        35,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
        18,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
        15,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        8,
    ),
    ("okhttp/4.12.0", 8),
    ("python-requests/2.32.3", 5),
    ("curl/8.10.1", 4),
    ("Go-http-client/2.0", 4),
    (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        2,
    ),
    ("kube-probe/1.31", 1),
];

pub fn weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    for (item, w) in items {
        if pick < *w {
            return item;
        }
        pick -= w;
    }
    &items[items.len() - 1].0
}

pub fn service(rng: &mut ChaCha8Rng) -> usize {
    let name = weighted(rng, SERVICES);
    SERVICES.iter().position(|(s, _)| s == name).unwrap_or(0)
}

pub fn method(rng: &mut ChaCha8Rng) -> &'static str {
    let &method = weighted(rng, METHODS);
    method
}

/// A path index with Zipf-like skew: index k has weight 1/(k+1)^1.2.
pub fn path_index(rng: &mut ChaCha8Rng) -> usize {
    static CUMULATIVE: LazyLock<Vec<f64>> = LazyLock::new(|| {
        let mut sum = 0.0;
        (0..PATHS.len())
            .map(|k| {
                sum += 1.0 / ((k + 1) as f64).powf(1.2);
                sum
            })
            .collect()
    });
    let total = CUMULATIVE[CUMULATIVE.len() - 1];
    let pick = rng.random::<f64>() * total;
    CUMULATIVE
        .partition_point(|c| *c <= pick)
        .min(PATHS.len() - 1)
}

pub fn path(rng: &mut ChaCha8Rng, index: usize) -> String {
    let template = PATHS[index];
    if template.contains("{id}") {
        // Ids are skewed too: a few popular objects, many rare ones.
        let id = (rng.random::<f64>().powi(3) * 100_000.0) as u32;
        template.replace("{id}", &id.to_string())
    } else {
        template.to_string()
    }
}

pub fn status(rng: &mut ChaCha8Rng, incident: bool) -> i32 {
    if incident && rng.random_bool(0.35) {
        return *weighted(rng, &[(500, 3), (502, 3), (503, 4), (504, 2)]);
    }
    *weighted(rng, STATUS)
}

fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller.
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Milliseconds: log-normal around a per-path median (hot paths are fast),
/// one request in a hundred 5-50x slower, everything 4x slower during an
/// incident.
pub fn latency_ms(rng: &mut ChaCha8Rng, path_index: usize, incident: bool) -> f64 {
    let median = 4.0 + (path_index as f64) * 3.0;
    let mut ms = median * (0.7 * standard_normal(rng)).exp();
    if rng.random_bool(0.01) {
        ms *= rng.random_range(5.0..50.0);
    }
    if incident {
        ms *= 4.0;
    }
    (ms * 1000.0).round() / 1000.0
}

pub fn bytes(rng: &mut ChaCha8Rng, status: i32) -> i64 {
    if status == 204 || status == 304 {
        return 0;
    }
    (2048.0 * (1.0 * standard_normal(rng)).exp()) as i64
}

/// One client in five is one of 40 heavy hitters; the rest come from a
/// pool of about a million addresses.
pub fn client_ip(rng: &mut ChaCha8Rng) -> String {
    if rng.random_bool(0.2) {
        let k = rng.random_range(0..40u32);
        return format!("203.0.113.{}", 10 + k);
    }
    let n: u32 = rng.random_range(0..1_000_000);
    format!("10.{}.{}.{}", n >> 16, (n >> 8) & 0xff, n & 0xff)
}

pub fn user_agent(rng: &mut ChaCha8Rng) -> &'static str {
    let &agent = weighted(rng, AGENTS);
    agent
}

pub fn trace_id(rng: &mut ChaCha8Rng) -> String {
    format!("{:032x}", rng.random::<u128>())
}

pub fn level(rng: &mut ChaCha8Rng, status: i32) -> &'static str {
    match status {
        500.. => "ERROR",
        400..=499 => "WARN",
        _ if rng.random_bool(0.05) => "DEBUG",
        _ => "INFO",
    }
}

pub fn message(
    rng: &mut ChaCha8Rng,
    method: &str,
    path: &str,
    status: i32,
    latency: f64,
    service: &str,
) -> String {
    match status {
        500 => format!("{method} {path} failed: internal error in {service} handler"),
        502 => format!(
            "{method} {path} failed: bad gateway from {}-{:02}",
            SERVICES[rng.random_range(0..SERVICES.len())].0,
            rng.random_range(0..HOSTS_PER_SERVICE)
        ),
        503 => format!("{method} {path} failed: upstream unavailable, circuit open"),
        504 => format!("{method} {path} failed: upstream timeout after {latency:.0}ms"),
        429 => format!("{method} {path} rate limited"),
        400..=499 => format!("{method} {path} rejected with {status}"),
        _ if latency > 1000.0 => format!("{method} {path} slow request: {latency:.0}ms"),
        _ => format!("{method} {path} {status} in {latency:.1}ms"),
    }
}

const TIERS: &[(&str, u32)] = &[("free", 70), ("pro", 25), ("enterprise", 5)];
const REGIONS: &[&str] = &["eu-west-1", "eu-central-1", "us-east-1", "ap-northeast-1"];
const RELEASES: &[&str] = &["2026.10.4", "2026.11.1", "2026.11.2"];
const FLAGS: &[&str] = &["new-checkout", "fast-search", "dark-mode", "beta-api"];

/// A line's structured attributes as one JSON object, nested as structured
/// loggers write them: the request, the user (absent for anonymous
/// requests), the deployment, a cache result for static files, feature
/// flags for some users, and error details for failures. Request ids are
/// unique, so a search for one finds a single line.
pub fn attributes(
    rng: &mut ChaCha8Rng,
    method: &str,
    path_index: usize,
    status: i32,
    service: &str,
) -> String {
    let request_id: u64 = rng.random();
    let mut json = format!(
        r#"{{"request":{{"id":"req-{request_id:016x}","method":"{method}","route":"{}","status":{status}}}"#,
        PATHS[path_index]
    );
    if rng.random_bool(0.7) {
        let user: u32 = rng.random_range(1..2_000_000);
        let tier = weighted(rng, TIERS);
        json.push_str(&format!(r#","user":{{"id":{user},"tier":"{tier}""#));
        if rng.random_bool(0.2) {
            let flags: Vec<String> = FLAGS
                .iter()
                .filter(|_| rng.random_bool(0.4))
                .map(|f| format!(r#""{f}""#))
                .collect();
            json.push_str(&format!(r#","flags":[{}]"#, flags.join(",")));
        }
        json.push('}');
    }
    json.push_str(&format!(
        r#","deploy":{{"service":"{service}","region":"{}","release":"{}"}}"#,
        REGIONS[rng.random_range(0..REGIONS.len())],
        RELEASES[rng.random_range(0..RELEASES.len())]
    ));
    if PATHS[path_index].starts_with("/static/") || PATHS[path_index].starts_with("/images/") {
        json.push_str(&format!(r#","cache":{{"hit":{}}}"#, rng.random_bool(0.9)));
    }
    if status >= 500 {
        let retryable = matches!(status, 502..=504);
        json.push_str(&format!(
            r#","error":{{"code":"E{status}","retryable":{retryable},"attempt":{}}}"#,
            rng.random_range(1..4)
        ));
    }
    json.push('}');
    json
}
