//! Bad bytes never take a server down: random bytes on raw TCP, an HTTP/2
//! preface followed by noise, well-formed Flight calls carrying malformed
//! tickets and action bodies, and calls of every control method carrying
//! noise for a message, sent to the coordinator and to every worker. Each gets an error or a closed connection, and the cluster
//! then answers a distributed query as before. The Flight calls carry the
//! cluster secret, so that they reach the decoders behind the front door
//! (as a buggy or compromised insider's would).

use std::time::Duration;

use arrow_flight::{Action, Ticket};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::AsyncWriteExt;

use hayate_protocol::ClusterSecret;
use hayate_rpc::flight_client;
use prost::bytes::{Buf, BufMut};
use tonic::client::Grpc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Status};

use crate::support::{TEST_SECRET, TestCluster, row_count};

/// Every method of the control services, served by workers or the
/// coordinator (a call to a method the process does not serve is answered
/// Unimplemented, which is fine too).
const CONTROL_METHODS: [&str; 7] = [
    "/hayate.WorkerControl/LaunchTask",
    "/hayate.WorkerControl/CancelRun",
    "/hayate.WorkerControl/Drain",
    "/hayate.Membership/Register",
    "/hayate.Membership/Heartbeat",
    "/hayate.QueryInsight/Progress",
    "/hayate.QueryInsight/Stats",
];

/// A unary gRPC call of `method` whose message is `body`, whatever those
/// bytes are, with the cluster secret.
async fn raw_call(channel: Channel, method: &str, body: Vec<u8>) -> Result<Vec<u8>, Status> {
    let secret = ClusterSecret::new(TEST_SECRET);
    let mut grpc = Grpc::new(InterceptedService::new(channel, secret));
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path = PathAndQuery::try_from(method.to_string()).expect("method path");
    let answer = grpc.unary(Request::new(body), path, RawBytes).await?;
    Ok(answer.into_inner())
}

/// Messages as the bytes they are: lets a test send what no typed client
/// would.
#[derive(Clone, Copy, Default)]
struct RawBytes;

impl Codec for RawBytes {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawBytes;
    type Decoder = RawBytes;
    fn encoder(&mut self) -> Self::Encoder {
        RawBytes
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawBytes
    }
}

impl Encoder for RawBytes {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawBytes {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

fn noise(rng: &mut ChaCha8Rng, max: usize) -> Vec<u8> {
    let n = rng.random_range(0..max);
    (0..n).map(|_| rng.random()).collect()
}

async fn raw_garbage(address: &str, rng: &mut ChaCha8Rng) {
    let host = address.trim_start_matches("http://");
    for round in 0..20 {
        let Ok(mut socket) = tokio::net::TcpStream::connect(host).await else {
            panic!("{address} stopped accepting connections after {round} rounds");
        };
        if round % 2 == 0 {
            let _ = socket.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
        }
        let _ = socket.write_all(&noise(rng, 4096)).await;
        let _ = socket.shutdown().await;
    }
}

async fn malformed_flight_calls(address: &str, rng: &mut ChaCha8Rng) {
    let channel = tonic::transport::Channel::from_shared(address.to_string())
        .expect("address")
        .connect()
        .await
        .expect("connect");
    let mut client = flight_client(channel.clone(), &ClusterSecret::new(TEST_SECRET));
    for _ in 0..20 {
        let ticket = Ticket::new(noise(rng, 512));
        if let Ok(response) = client.do_get(ticket).await {
            let mut stream = response.into_inner();
            let _ = tokio::time::timeout(Duration::from_secs(2), stream.message()).await;
        }
        for method in CONTROL_METHODS {
            let _ = raw_call(channel.clone(), method, noise(rng, 512)).await;
        }
        for kind in [
            "hayate.query_stats",
            "hayate.query_progress",
            "CancelFlightInfo",
            "no.such.action",
        ] {
            let action = Action::new(kind, noise(rng, 512));
            if let Ok(response) = client.do_action(action).await {
                let mut stream = response.into_inner();
                let _ = tokio::time::timeout(Duration::from_secs(2), stream.message()).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_bytes_and_malformed_calls_leave_every_server_serving() {
    let cluster = TestCluster::start(2).await;
    let mut client = cluster.tpch_client().await;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut addresses = vec![cluster.coordinator.address.clone()];
    addresses.extend(cluster.workers.iter().map(|w| w.address.clone()));
    for address in &addresses {
        raw_garbage(address, &mut rng).await;
        malformed_flight_calls(address, &mut rng).await;
    }
    // An empty announcement (which decodes) registers nothing.
    let coordinator = tonic::transport::Channel::from_shared(cluster.coordinator.address.clone())
        .expect("address")
        .connect()
        .await
        .expect("connect");
    let refused = raw_call(coordinator, "/hayate.Membership/Register", Vec::new())
        .await
        .expect_err("an empty announcement is refused");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused}");
    // Every worker is still a member, nothing else is, and the cluster
    // still answers.
    assert_eq!(cluster.coordinator.membership.live().len(), 2);
    let rows = client
        .query("SELECT l_returnflag, count(*) FROM lineitem GROUP BY 1")
        .await
        .expect("the cluster still answers");
    assert_eq!(row_count(&rows), 3);
    cluster.stop().await;
}
