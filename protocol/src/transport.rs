//! gRPC settings shared by every Hayate endpoint.
//!
//! gRPC's default 4 MiB message limit is a cliff that large plans and wide
//! batches fall off. Tasks carry only their own slice of files and Flight
//! streams split batches, so messages stay moderate; the limit is raised
//! deliberately to leave headroom, not to hide unbounded messages.

/// Largest message any Hayate endpoint encodes or decodes.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// Largest record batch payload put in one Flight message; larger batches
/// are split before sending.
pub const TARGET_FLIGHT_MESSAGE_BYTES: usize = 2 * 1024 * 1024;

use std::time::Duration;

/// While a call is open, each side pings the other this often...
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(3);

/// ...and a peer that does not answer a ping within this time is taken as
/// gone: its calls fail and the query runs again without it. This is what
/// notices a worker that is cut off or frozen (no reset ever arrives), within
/// about seven seconds; a killed one is noticed at once by its reset.
pub const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(4);

/// Builds a lazily connecting gRPC channel to `address` (`http://host:port`).
pub fn channel(address: &str) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    Ok(
        tonic::transport::Endpoint::from_shared(address.to_string())?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
            .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
            .connect_lazy(),
    )
}

/// A gRPC server builder with Hayate's keep-alive, so that a server also
/// notices a caller that vanished and stops work nobody will read.
pub fn server_builder() -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(KEEP_ALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEP_ALIVE_TIMEOUT))
}
