//! Exchange streams between two processes share one HTTP/2 connection. A
//! stream that is not being read (a join's probe side, waiting for its build
//! side; another query's exchange) must never stop another stream on that
//! connection from receiving: that is a distributed deadlock. With hyper's
//! default windows (5 MiB per connection) three unread streams were enough.

use std::time::Duration;

use arrow_flight::Ticket;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use hayate_planner::encode_plan;
use hayate_protocol::transport::InternalTransport;
use hayate_protocol::{ClusterSecret, LaunchTask, PartitionTicket, QueryRun};
use hayate_rpc::Channels;
use prost::Message;

use crate::support::{TEST_SECRET, TestCluster};

/// One producer task: about 16 MiB of Arrow in one partition.
async fn big_partition_plan() -> Vec<u8> {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    let plan = ctx
        .sql("SELECT value AS a, value * 2 AS b FROM generate_series(1, 1000000)")
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    encode_plan(plan).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unread_stream_never_holds_up_another_on_the_same_connection() {
    let cluster = TestCluster::start(1).await;
    let worker = cluster.workers[0].address.clone();
    let channels = Channels::new(InternalTransport {
        secret: ClusterSecret::new(TEST_SECRET),
        tls: None,
    });
    let plan = big_partition_plan().await;
    let run = QueryRun::new("unread-streams", 1);
    for task in 0..4u32 {
        let launch = LaunchTask::of_plan(run.task(0, task), plan.clone());
        let mut client = channels.control(&worker).unwrap();
        client.launch_task(launch).await.unwrap();
    }
    let ticket = |task: u32| Ticket {
        ticket: PartitionTicket {
            task: run.task(0, task),
            partition: 0,
            consumer: 0,
        }
        .encode_to_vec()
        .into(),
    };
    // Three streams opened on the shared connection and left unread: their
    // data fills whatever the windows let through.
    let mut unread = Vec::new();
    for task in 0..3 {
        let mut client = channels.client(&worker).unwrap();
        unread.push(client.do_get(ticket(task)).await.unwrap().into_inner());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The fourth is read to its end while they wait.
    let mut client = channels.client(&worker).unwrap();
    let read = async {
        let mut stream = client.do_get(ticket(3)).await.unwrap().into_inner();
        let mut bytes = 0usize;
        while let Some(data) = stream.next().await {
            bytes += data.unwrap().data_body.len();
        }
        bytes
    };
    let bytes = tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the read stream is not held up by the unread ones");
    assert!(bytes > 10 << 20, "{bytes} bytes read");
    drop(unread);
    cluster.stop().await;
}
