//! Bad bytes never take a server down: random bytes on raw TCP, an HTTP/2
//! preface followed by noise, and well-formed Flight calls carrying
//! malformed tickets and action bodies, sent to the coordinator and to
//! every worker. Each gets an error or a closed connection, and the cluster
//! then answers a distributed query as before. The Flight calls carry the
//! cluster secret, so that they reach the decoders behind the front door
//! (as a buggy or compromised insider's would).

use std::time::Duration;

use arrow_flight::{Action, Ticket};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::AsyncWriteExt;

use hayate_protocol::ClusterSecret;
use hayate_worker::flight_client;

use crate::support::{TEST_SECRET, TestCluster, row_count};

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
    let mut client = flight_client(channel, &ClusterSecret::new(TEST_SECRET));
    for _ in 0..20 {
        let ticket = Ticket::new(noise(rng, 512));
        if let Ok(response) = client.do_get(ticket).await {
            let mut stream = response.into_inner();
            let _ = tokio::time::timeout(Duration::from_secs(2), stream.message()).await;
        }
        for kind in [
            "hayate.launch_task",
            "hayate.cancel_query",
            "hayate.register",
            "hayate.heartbeat",
            "hayate.query_stats",
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
    let mut coordinator = flight_client(
        tonic::transport::Channel::from_shared(cluster.coordinator.address.clone())
            .expect("address")
            .connect()
            .await
            .expect("connect"),
        &ClusterSecret::new(TEST_SECRET),
    );
    let refused = coordinator
        .do_action(Action::new("hayate.register", Vec::<u8>::new()))
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
