//! Who may talk to the cluster: signed-in users on the client endpoint,
//! only Hayate processes with the cluster secret on internal calls, and TLS
//! on both.

use std::net::SocketAddr;
use std::time::Duration;

use arrow_flight::Ticket;
use arrow_flight::flight_service_client::FlightServiceClient;
use datafusion::arrow::array::Int64Array;
use hayate_coordinator::auth::{Users, hash_password};
use hayate_coordinator::{AuthConfig, CoordinatorConfig};
use hayate_embedded::EmbeddedCluster;
use hayate_protocol::control::membership::membership_client::MembershipClient;
use hayate_protocol::control::worker_control::worker_control_client::WorkerControlClient;
use hayate_protocol::transport::{Tls, TlsFiles};
use hayate_protocol::{ClusterSecret, LaunchTask, WorkerAnnouncement};
use hayate_testkit::SqlClient;
use hayate_worker::{CoordinatorTargets, WorkerConfig, start_worker};
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use crate::support::{TEST_SECRET, TestCluster, tpch_dir};

async fn start(auth: Option<AuthConfig>, tls: Tls) -> EmbeddedCluster {
    let config = CoordinatorConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        heartbeat_interval: Duration::from_millis(200),
        worker_timeout: Duration::from_secs(2),
        secret: ClusterSecret::new(TEST_SECRET),
        tls,
        auth,
        ..Default::default()
    };
    EmbeddedCluster::start_networked(config, 2)
        .await
        .expect("cluster starts")
}

/// Creates `nation` and counts it with a query whose scan runs on workers.
async fn count_nations(client: &mut SqlClient) -> Result<i64, String> {
    client
        .update(&format!(
            "CREATE EXTERNAL TABLE IF NOT EXISTS nation STORED AS PARQUET LOCATION '{}/nation/'",
            tpch_dir()
        ))
        .await?;
    let batches = client
        .query("SELECT count(*) FROM nation WHERE n_nationkey >= 0")
        .await?;
    Ok(batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("count is Int64")
        .value(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_must_sign_in_and_tokens_expire() {
    let users = Users::parse(&format!("alice:{}", hash_password("wonderland").unwrap())).unwrap();
    let cluster = start(
        Some(AuthConfig {
            users,
            token_ttl: Duration::from_secs(2),
        }),
        Tls::default(),
    )
    .await;
    let address = &cluster.coordinator.address;

    let mut anonymous = SqlClient::connect(address).await.unwrap();
    let refused = anonymous.query("SELECT 1").await.unwrap_err();
    assert!(refused.contains("authentication required"), "{refused}");

    let mut client = SqlClient::connect(address).await.unwrap();
    let wrong = client.inner.handshake("alice", "guess").await.unwrap_err();
    assert!(
        wrong.to_string().contains("wrong user name or password"),
        "{wrong}"
    );
    client.inner.handshake("alice", "wonderland").await.unwrap();
    assert_eq!(count_nations(&mut client).await.unwrap(), 25);

    tokio::time::sleep(Duration::from_millis(2200)).await;
    let expired = client.query("SELECT 1").await.unwrap_err();
    assert!(expired.contains("token expired"), "{expired}");
    client.inner.clear_token();
    client.inner.handshake("alice", "wonderland").await.unwrap();
    assert_eq!(count_nations(&mut client).await.unwrap(), 25);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_serve_only_callers_with_the_cluster_secret() {
    let cluster = TestCluster::start(1).await;
    let worker = cluster.workers[0].address.clone();
    let channel = Channel::from_shared(worker.clone()).unwrap();
    let launch = LaunchTask::default;

    // No secret: nothing is served, neither control calls nor data.
    let mut stranger = WorkerControlClient::new(channel.connect_lazy());
    let refused = stranger.launch_task(launch()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");
    let mut stranger = FlightServiceClient::new(channel.connect_lazy());
    let refused = stranger
        .do_get(Ticket::new(vec![1, 2, 3]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");

    // A wrong secret is refused as such.
    let mut guesser =
        WorkerControlClient::with_interceptor(channel.connect_lazy(), ClusterSecret::new("guess"));
    let refused = guesser.launch_task(launch()).await.unwrap_err();
    assert!(
        refused.message().contains("wrong cluster secret"),
        "{refused}"
    );

    // The coordinator takes no announcement without the secret...
    let mut impostor = MembershipClient::new(
        Channel::from_shared(cluster.coordinator.address.clone())
            .unwrap()
            .connect_lazy(),
    );
    let announcement = WorkerAnnouncement {
        worker_id: "impostor".into(),
        address: worker.clone(),
        running_tasks: 0,
        cpus: 1,
        draining: false,
        ..Default::default()
    };
    let refused = impostor.register(announcement).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused}");

    // ...so a worker with the wrong secret never joins.
    let outsider = start_worker(WorkerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        advertise_host: None,
        advertise_port: None,
        coordinators: CoordinatorTargets::parse(&[&cluster.coordinator.address])
            .expect("coordinator URL"),
        memory: Default::default(),
        secret: ClusterSecret::new("guess"),
        tls: Default::default(),
        status: None,
        local_peers: Default::default(),
        cpu: Default::default(),
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let live = cluster.coordinator.membership.live();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].address, worker);

    // The real cluster still answers.
    let mut client = cluster.client().await;
    assert_eq!(count_nations(&mut client).await.unwrap(), 25);
    outsider.stop().await;
    cluster.stop().await;
}

/// A CA, and a certificate it signed for 127.0.0.1 and localhost, as PEM
/// files in `dir`.
fn write_certificates(dir: &std::path::Path) -> TlsFiles {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let files = TlsFiles {
        cert: Some(dir.join("hayate.pem")),
        key: Some(dir.join("hayate.key")),
        ca: Some(dir.join("ca.pem")),
    };
    std::fs::write(files.cert.as_ref().unwrap(), cert.pem()).unwrap();
    std::fs::write(files.key.as_ref().unwrap(), key.serialize_pem()).unwrap();
    std::fs::write(files.ca.as_ref().unwrap(), ca.pem()).unwrap();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_on_the_client_endpoint_and_between_processes() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_certificates(dir.path());
    let cluster = start(None, Tls::load(&files).unwrap()).await;
    let address = cluster.coordinator.address.clone();
    assert!(address.starts_with("https://"), "{address}");
    assert!(
        cluster
            .workers
            .iter()
            .all(|w| w.address.starts_with("https://"))
    );

    let ca = std::fs::read(files.ca.as_ref().unwrap()).unwrap();
    let channel = Channel::from_shared(address.clone())
        .unwrap()
        .tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)))
        .unwrap()
        .connect()
        .await
        .expect("TLS connection");
    let mut client = SqlClient::on(channel);
    assert_eq!(count_nations(&mut client).await.unwrap(), 25);

    // Plain HTTP/2 to the TLS port gets nowhere.
    let plain = address.replace("https://", "http://");
    let plain = match SqlClient::connect(&plain).await {
        Ok(mut c) => c.query("SELECT 1").await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(plain.is_err());
    cluster.stop().await;
}
