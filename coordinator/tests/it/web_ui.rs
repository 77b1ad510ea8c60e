//! The web UI, driven in headless Chromium against a live cluster: what a
//! person sees on the overview and on a query's page while the query runs
//! and after it ends, and the cancel its button sends. The sign-in it sits
//! behind when users are configured is checked over plain HTTP.

use std::time::Duration;

use futures::StreamExt;
use hayate_coordinator::auth::{Users, hash_password};
use hayate_coordinator::{AuthConfig, CoordinatorConfig};
use hayate_embedded::EmbeddedCluster;
use hayate_protocol::ClusterSecret;
use hayate_testkit::{browser_available, page_dom, reqwest};

use crate::support::{TEST_SECRET, TestCluster};

const SLOW: &str = "SELECT count(*) FROM lineitem a JOIN lineitem b \
                    ON a.l_suppkey = b.l_suppkey AND a.l_orderkey + b.l_partkey < 0";

/// How long a page's scripts get to fetch and draw.
const SETTLE: Duration = Duration::from_millis(2500);

/// Loads `url` in Chromium until `seen` holds for its DOM (the page
/// refreshes itself every second), for up to 20 s.
fn page_until(url: &str, seen: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let dom = page_dom(url, SETTLE);
        if seen(&dom) {
            return dom;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never seen on {url}:\n{dom}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_web_ui_shows_the_cluster_and_a_query_as_it_runs_and_ends() {
    if !browser_available() {
        return;
    }
    let cluster = TestCluster::start_with_ui(2).await;
    let ui = cluster.ui();
    let mut client = cluster.tpch_client().await;
    let (_, finished) = client
        .run("SELECT l_returnflag, count(*) FROM lineitem GROUP BY l_returnflag")
        .await
        .unwrap();
    let finished = finished.unwrap();
    client
        .update("SET datafusion.execution.batch_size = 64")
        .await
        .unwrap();
    let info = client.inner.execute(SLOW.into(), None).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let slow = hayate_coordinator::flight_sql::statement_handle(&ticket.ticket).unwrap();
    let mut stream = client.inner.do_get(ticket).await.unwrap();
    let reader = tokio::spawn(async move { stream.next().await });

    // The overview: both workers, their slots, both queries with states.
    let overview = {
        let url = format!("{ui}/");
        tokio::task::spawn_blocking(move || {
            page_until(&url, |dom| dom.contains(r#"class="state running""#))
        })
        .await
        .unwrap()
    };
    assert!(overview.contains(r#"id="workers-count">2<"#), "{overview}");
    for worker in &cluster.workers {
        assert!(overview.contains(&worker.address), "{overview}");
    }
    assert!(overview.contains(&format!(r##"href="#/query/{finished}""##)));
    assert!(overview.contains(&format!(r##"href="#/query/{slow}""##)));
    assert!(overview.contains("l_returnflag"), "the SQL is listed");

    // The running query's page: its stage graph drawn, a stage at work,
    // and a cancel button.
    let page = format!("{ui}/#/query/{slow}");
    let running = {
        let page = page.clone();
        tokio::task::spawn_blocking(move || {
            page_until(&page, |dom| dom.contains(r#"data-status="running""#))
        })
        .await
        .unwrap()
    };
    assert!(running.contains(r#"id="stage-dag""#), "{running}");
    assert!(running.contains(r#"id="query-state"><span class="state running">running"#));
    assert!(
        running.matches(r#"class="stage "#).count() >= 2,
        "{running}"
    );
    assert!(
        running.contains(r#"class="edge""#),
        "stages are joined: {running}"
    );
    assert!(running.contains(r#"id="cancel""#), "{running}");
    assert!(running.contains("AggregateExec"), "{running}");

    // The button's request, as the page sends it; without the page's
    // header it is refused (another site cannot forge it).
    let http = reqwest::Client::new();
    let cancel = format!("{ui}/api/queries/{slow}/cancel");
    let forged = http.post(&cancel).send().await.unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    let sent = http
        .post(&cancel)
        .header("x-hayate-ui", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(sent.text().await.unwrap(), r#"{"cancelled":true}"#);
    let ended = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("the query's stream ends")
        .unwrap();
    assert!(ended.unwrap().is_err());

    // The same page once the query has ended: cancelled, why, no button.
    let over = tokio::task::spawn_blocking(move || {
        page_until(&page, |dom| dom.contains(r#"class="state cancelled""#))
    })
    .await
    .unwrap();
    assert!(over.contains("query cancelled by the web UI"), "{over}");
    assert!(!over.contains(r#"id="cancel""#), "{over}");

    // A finished query: every stage done.
    let done = format!("{ui}/#/query/{finished}");
    let done = tokio::task::spawn_blocking(move || {
        page_until(&done, |dom| dom.contains(r#"id="stage-dag""#))
    })
    .await
    .unwrap();
    assert!(done.contains(r#"class="state finished""#), "{done}");
    assert!(!done.contains(r#"data-status="running""#));
    assert!(!done.contains(r#"data-status="waiting""#));
    cluster.stop().await;
}

/// With users configured, the UI asks for the same password as Flight
/// SQL; once signed in, the browser's cookie carries the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_is_behind_the_sign_in() {
    let users = Users::parse(&format!("alice:{}", hash_password("wonderland").unwrap())).unwrap();
    let config = CoordinatorConfig {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        status: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        secret: ClusterSecret::new(TEST_SECRET),
        auth: Some(AuthConfig {
            users,
            token_ttl: Duration::from_secs(60),
        }),
        ..Default::default()
    };
    let cluster = EmbeddedCluster::start_networked(config, 1).await.unwrap();
    let ui = format!("http://{}", cluster.coordinator.status_address.unwrap());
    let http = reqwest::Client::new();
    let anonymous = http.get(format!("{ui}/api/queries")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let wrong = http
        .get(format!("{ui}/"))
        .basic_auth("alice", Some("guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let signed_in = http
        .get(format!("{ui}/api/cluster"))
        .basic_auth("alice", Some("wonderland"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 200);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let token = cookie.split(';').next().unwrap().to_string();
    let again = http
        .get(format!("{ui}/api/queries"))
        .header("cookie", token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 200);
    // The probes stay open for the orchestrator.
    let probe = http.get(format!("{ui}/healthz")).send().await.unwrap();
    assert_eq!(probe.status().as_u16(), 200);
    cluster.stop().await;
}
