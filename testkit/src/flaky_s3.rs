//! An HTTP proxy in front of a real S3 server that misbehaves the way S3
//! does under load: some requests are answered `503 SlowDown`, and some
//! ranged reads are cut off half-way through the body (a dropped
//! connection). Everything else is forwarded unchanged, signature headers
//! included, so the S3 server checks the client's real signatures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

const SLOW_DOWN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";

/// One request in this many is answered 503 SlowDown...
const SLOW_DOWN_EVERY: usize = 5;
/// ...and, of the ranged reads, one in this many is cut off mid-body.
const CUT_EVERY: usize = 4;

pub struct FlakyS3 {
    /// `http://127.0.0.1:<port>`: use as the S3 endpoint.
    pub endpoint: String,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

struct Inner {
    upstream: String,
    client: reqwest::Client,
    requests: AtomicUsize,
    ranged: AtomicUsize,
    slow_downs: AtomicUsize,
    cuts: AtomicUsize,
}

impl FlakyS3 {
    /// Proxies to the S3 endpoint `upstream`.
    pub async fn start(upstream: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(std::io::Error::other)?,
            requests: AtomicUsize::new(0),
            ranged: AtomicUsize::new(0),
            slow_downs: AtomicUsize::new(0),
            cuts: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&inner));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            endpoint,
            inner,
            server,
        })
    }

    /// 503 SlowDown answers given so far.
    pub fn slow_downs(&self) -> usize {
        self.inner.slow_downs.load(Ordering::Relaxed)
    }

    /// Bodies cut off so far.
    pub fn cuts(&self) -> usize {
        self.inner.cuts.load(Ordering::Relaxed)
    }
}

impl Drop for FlakyS3 {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(State(proxy): State<Arc<Inner>>, request: Request) -> Response {
    let n = proxy.requests.fetch_add(1, Ordering::Relaxed);
    if n % SLOW_DOWN_EVERY == SLOW_DOWN_EVERY - 1 {
        proxy.slow_downs.fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/xml")],
            SLOW_DOWN,
        )
            .into_response();
    }
    let ranged = request.headers().contains_key(header::RANGE);
    let method = request.method().clone();
    let target = format!(
        "{}{}",
        proxy.upstream,
        request.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    let headers = request.headers().clone();
    let Ok(body) = axum::body::to_bytes(request.into_body(), usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let answer = proxy
        .client
        .request(method, target)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let Ok(answer) = answer else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let headers: HeaderMap = answer.headers().clone();
    let Ok(bytes) = answer.bytes().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let cut = ranged
        && status.is_success()
        && bytes.len() > 1
        && proxy.ranged.fetch_add(1, Ordering::Relaxed) % CUT_EVERY == CUT_EVERY - 1;
    let body = if cut {
        proxy.cuts.fetch_add(1, Ordering::Relaxed);
        // Half the promised bytes, then the connection breaks.
        let half = bytes.slice(..bytes.len() / 2);
        Body::from_stream(futures::stream::iter([
            Ok::<Bytes, std::io::Error>(half),
            Err(std::io::Error::other(
                "connection dropped by the flaky proxy",
            )),
        ]))
    } else {
        Body::from(bytes)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}
