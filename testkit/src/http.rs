//! Reading the HTTP status endpoint (`/healthz`, `/readyz`, `/metrics`) of a
//! Hayate process as a probe or Prometheus would.

/// GETs `url`; returns the status code and body.
pub async fn http_get(url: &str) -> (u16, String) {
    let response = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    (status, body)
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

/// The status code of a GET to `url`, or `None` while nothing listens.
pub async fn http_status(url: &str) -> Option<u16> {
    Some(reqwest::get(url).await.ok()?.status().as_u16())
}
