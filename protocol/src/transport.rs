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

/// Builds a lazily connecting gRPC channel to `address` (`http://host:port`).
pub fn channel(address: &str) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    Ok(
        tonic::transport::Endpoint::from_shared(address.to_string())?
            .connect_timeout(std::time::Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(std::time::Duration::from_secs(10))
            .keep_alive_timeout(std::time::Duration::from_secs(10))
            .connect_lazy(),
    )
}
