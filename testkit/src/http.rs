//! Reading the HTTP status endpoint (`/healthz`, `/readyz`, `/metrics`) of a
//! Hayate process as a probe or Prometheus would.

/// GETs `url`; returns the status code and body, or `None` while nothing
/// answers (not listening yet, connection reset).
pub async fn try_http_get(url: &str) -> Option<(u16, String)> {
    let response = reqwest::get(url).await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// GETs `url`, which must answer; returns the status code and body.
pub async fn http_get(url: &str) -> (u16, String) {
    try_http_get(url)
        .await
        .unwrap_or_else(|| panic!("GET {url}: no answer"))
}

/// The status code of a GET to `url`, or `None` while nothing answers.
pub async fn http_status(url: &str) -> Option<u16> {
    try_http_get(url).await.map(|(status, _)| status)
}

/// The sum of every sample of metric `name` in a Prometheus text page
/// whose labels contain `labels` (e.g. `kind="get"`; empty for any).
pub fn metric(page: &str, name: &str, labels: &str) -> f64 {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_set) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            (metric == name && label_set.contains(labels)).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// The value of label `label` on the first sample of metric `name` in a
/// Prometheus text page (an info metric's payload, such as an id).
pub fn metric_label(page: &str, name: &str, label: &str) -> Option<String> {
    let series = page
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(name)?.strip_prefix('{'))?;
    let start = series.find(&format!("{label}=\""))? + label.len() + 2;
    let value = &series[start..];
    Some(value[..value.find('"')?].to_string())
}
