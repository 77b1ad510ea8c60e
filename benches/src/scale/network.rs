//! The model's network: each node in a network namespace of its own, all
//! joined to one bridge by veth pairs, every link shaped by `tc`.
//!
//! The bridge lives in a namespace of its own (the "switch"), not in the
//! host's: frames it forwards then pass that namespace's netfilter, which
//! is empty, instead of the host's (where a Docker engine's `FORWARD DROP`
//! would drop them). The host reaches the nodes through one more veth into
//! the switch, holding [`HOST_ADDRESS`]: the coordinator and the benchmark's
//! client sit there.
//!
//! Every address is in 10.213.0.0/24 and exists only inside these
//! namespaces, which this process creates and deletes.

use std::process::Command;

use anyhow::{Context, bail};

/// The host's address on the model network.
pub const HOST_ADDRESS: &str = "10.213.0.1";
const PREFIX: &str = "10.213.0";
const SWITCH: &str = "hayate-switch";
const HOST_LINK: &str = "hayate-host";

/// How each node's link is shaped.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct LinkShape {
    /// One-way delay added per packet, in milliseconds (needs `sch_netem`).
    pub delay_ms: f64,
    /// The link's rate in Mbit/s, both ways.
    pub rate_mbit: u64,
}

/// What the kernel let us apply: `netem` (delay and rate) or, where
/// `sch_netem` is missing, `tbf` (rate only).
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppliedShape {
    pub shape: LinkShape,
    pub qdisc: String,
    pub delay_applied: bool,
}

/// The namespaces and links of `nodes` model nodes; all removed on drop.
pub struct ModelNetwork {
    nodes: usize,
    pub applied: AppliedShape,
}

fn run(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .with_context(|| format!("running {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn in_ns(ns: &str, args: &[&str]) -> anyhow::Result<()> {
    let mut all = vec!["ip", "netns", "exec", ns];
    all.extend_from_slice(args);
    run(&all)
}

/// The namespace node `i` (0-based) runs in.
pub fn node_namespace(i: usize) -> String {
    format!("hayate-node{i}")
}

/// Node `i`'s address.
pub fn node_address(i: usize) -> String {
    format!("{PREFIX}.{}", 10 + i)
}

/// Shapes egress of `dev` in `ns`: netem with delay and rate if the kernel
/// has it, else a token bucket at the rate.
fn shape(ns: &str, dev: &str, shape: LinkShape) -> anyhow::Result<(String, bool)> {
    let rate = format!("{}mbit", shape.rate_mbit);
    let delay = format!("{}ms", shape.delay_ms);
    let netem = [
        "tc", "qdisc", "replace", "dev", dev, "root", "netem", "delay", &delay, "rate", &rate,
        "limit", "100000",
    ];
    if in_ns(ns, &netem).is_ok() {
        return Ok(("netem".into(), true));
    }
    // Burst: at least one 4 ms tick of the rate, and never under 256 KiB.
    let burst = format!("{}kb", (shape.rate_mbit * 1000 / 8 / 250).max(256));
    in_ns(
        ns,
        &[
            "tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", &rate, "burst", &burst,
            "latency", "50ms",
        ],
    )?;
    Ok(("tbf".into(), false))
}

impl ModelNetwork {
    /// Creates the switch, the host's link and `nodes` node namespaces,
    /// after removing any an earlier run left behind.
    pub fn create(nodes: usize, link: LinkShape) -> anyhow::Result<Self> {
        remove_all(64);
        run(&["ip", "netns", "add", SWITCH])?;
        in_ns(SWITCH, &["ip", "link", "add", "br0", "type", "bridge"])?;
        in_ns(SWITCH, &["ip", "link", "set", "br0", "up"])?;
        in_ns(SWITCH, &["ip", "link", "set", "lo", "up"])?;
        run(&[
            "ip", "link", "add", HOST_LINK, "type", "veth", "peer", "name", "host", "netns", SWITCH,
        ])?;
        run(&[
            "ip",
            "addr",
            "add",
            &format!("{HOST_ADDRESS}/24"),
            "dev",
            HOST_LINK,
        ])?;
        run(&["ip", "link", "set", HOST_LINK, "up"])?;
        in_ns(
            SWITCH,
            &["ip", "link", "set", "host", "master", "br0", "up"],
        )?;
        let mut applied = None;
        for i in 0..nodes {
            let ns = node_namespace(i);
            let port = format!("n{i}");
            run(&["ip", "netns", "add", &ns])?;
            run(&[
                "ip", "link", "add", "eth0", "netns", &ns, "type", "veth", "peer", "name", &port,
                "netns", SWITCH,
            ])?;
            in_ns(SWITCH, &["ip", "link", "set", &port, "master", "br0", "up"])?;
            let cidr = format!("{}/24", node_address(i));
            in_ns(&ns, &["ip", "addr", "add", &cidr, "dev", "eth0"])?;
            in_ns(&ns, &["ip", "link", "set", "eth0", "up"])?;
            in_ns(&ns, &["ip", "link", "set", "lo", "up"])?;
            // Both directions: what the node sends, and what the switch
            // sends to it.
            let (qdisc, delayed) = shape(&ns, "eth0", link)?;
            shape(SWITCH, &port, link)?;
            applied = Some(AppliedShape {
                shape: link,
                qdisc,
                delay_applied: delayed,
            });
        }
        Ok(Self {
            nodes,
            applied: applied.unwrap_or(AppliedShape {
                shape: link,
                qdisc: "none".into(),
                delay_applied: false,
            }),
        })
    }
}

/// Deletes the namespaces (and with them their links) of up to `nodes`
/// nodes, the switch and the host's link; what does not exist is skipped.
fn remove_all(nodes: usize) {
    let _ = run(&["ip", "link", "del", HOST_LINK]);
    for i in 0..nodes {
        let _ = run(&["ip", "netns", "del", &node_namespace(i)]);
    }
    let _ = run(&["ip", "netns", "del", SWITCH]);
}

impl Drop for ModelNetwork {
    fn drop(&mut self) {
        remove_all(self.nodes);
    }
}
