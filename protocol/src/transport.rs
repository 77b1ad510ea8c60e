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

use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::cluster_secret::ClusterSecret;

/// While a call is open, each side pings the other this often...
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(3);

/// ...and a peer that does not answer a ping within this time is taken as
/// gone: its calls fail and the query runs again without it. This is what
/// notices a worker that is cut off or frozen (no reset ever arrives), within
/// about seven seconds; a killed one is noticed at once by its reset.
pub const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(4);

/// How many bytes of one stream may arrive before its reader takes them.
pub const STREAM_WINDOW: u32 = 4 * 1024 * 1024;

/// The same for all streams of a connection together: as large as HTTP/2
/// allows, so that the connection never waits as a whole.
///
/// A task opens all its exchange streams to a peer on one connection, and
/// reads them in the order its plan needs them: a join's build side first,
/// its probe side only afterwards. With hyper's default (5 MiB for the
/// connection, 2 MiB per stream), streams not read yet filled the shared
/// window, and the stream the plan was waiting for could no longer receive
/// a byte: TPC-H q8 on two workers hung when both tasks of its join stage
/// ran on one worker. Bounded per stream, unbounded per connection, each
/// stream waits only for its own reader.
pub const CONNECTION_WINDOW: u32 = (1 << 31) - 1;

/// Builds a lazily connecting gRPC channel to `address` (`http://host:port`,
/// or `https://` with `tls`, else the public web roots).
pub fn channel(
    address: &str,
    tls: Option<&ClientTlsConfig>,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    Ok(endpoint(address, tls)?.connect_lazy())
}

/// The endpoint [`channel`] connects to, with Hayate's settings, for a
/// caller that sets more (where its connection tasks run).
pub fn endpoint(
    address: &str,
    tls: Option<&ClientTlsConfig>,
) -> Result<tonic::transport::Endpoint, tonic::transport::Error> {
    let mut endpoint = tonic::transport::Endpoint::from_shared(address.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT);
    if address.starts_with("https://") {
        let config = tls
            .cloned()
            .unwrap_or_else(|| ClientTlsConfig::new().with_webpki_roots());
        endpoint = endpoint.tls_config(config)?;
    }
    Ok(endpoint)
}

/// A gRPC server builder with Hayate's keep-alive (so that a server also
/// notices a caller that vanished and stops work nobody will read), serving
/// TLS when given an identity. Serve it on [`incoming`].
pub fn server_builder(
    tls: Option<&ServerTlsConfig>,
) -> Result<tonic::transport::Server, tonic::transport::Error> {
    let builder = tonic::transport::Server::builder()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .http2_keepalive_interval(Some(KEEP_ALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEP_ALIVE_TIMEOUT));
    match tls {
        Some(config) => builder.tls_config(config.clone()),
        None => Ok(builder),
    }
}

/// The connections a server accepts on `listener`, with `TCP_NODELAY` set.
///
/// tonic sets it only on listeners it binds itself, not on ours (we bind
/// first, to report the port we got). Without it, Nagle's algorithm holds
/// the small last frame of a response until the client's delayed ACK
/// arrives: about 40 ms added to every call and every exchange stream.
pub fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Where a process's TLS certificates are: its own (PEM certificate chain
/// and private key) and the authority it trusts for its peers.
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// CA certificate (PEM) that signed the other Hayate processes'
    /// certificates; without it, the public web roots are trusted.
    pub ca: Option<PathBuf>,
}

/// TLS as loaded from [`TlsFiles`].
#[derive(Clone, Debug, Default)]
pub struct Tls {
    /// Present when this process serves TLS.
    pub server: Option<ServerTlsConfig>,
    /// How this process verifies the peers it calls over `https://`.
    pub client: Option<ClientTlsConfig>,
}

impl Tls {
    pub fn load(files: &TlsFiles) -> std::io::Result<Self> {
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
            })
        };
        let server = match (&files.cert, &files.key) {
            (Some(cert), Some(key)) => {
                Some(ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?)))
            }
            (None, None) => None,
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "TLS needs both a certificate (--tls-cert) and its key (--tls-key)",
                ));
            }
        };
        let client = match &files.ca {
            Some(ca) => {
                Some(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?)))
            }
            None => None,
        };
        Ok(Self { server, client })
    }

    /// The URL scheme this process is reached by.
    pub fn scheme(&self) -> &'static str {
        if self.server.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

/// How a Hayate process calls the others: the cluster secret every call
/// carries, and how `https://` peers are verified.
#[derive(Clone, Debug, Default)]
pub struct InternalTransport {
    pub secret: ClusterSecret,
    pub tls: Option<ClientTlsConfig>,
}
