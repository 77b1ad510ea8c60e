//! Generates the tonic clients and servers of Hayate's control services
//! from their definitions here, in Rust: no `.proto` files and no `protoc`.
//! The messages they carry are the `prost` structs in `src/`.

use tonic_build::manual::{Builder, Method, Service};

/// A unary call `name` taking `input` and answering `output`.
fn unary(name: &str, route: &str, input: &str, output: &str) -> Method {
    Method::builder()
        .name(name)
        .route_name(route)
        .input_type(input)
        .output_type(output)
        .codec_path("tonic_prost::ProstCodec")
        .build()
}

fn main() {
    // Coordinator → worker: what is not data.
    let worker = Service::builder()
        .name("WorkerControl")
        .package("hayate")
        .method(unary(
            "launch_task",
            "LaunchTask",
            "crate::LaunchTask",
            "crate::TaskLaunched",
        ))
        .method(unary(
            "cancel_run",
            "CancelRun",
            "crate::QueryRun",
            "crate::QueryTasksReport",
        ))
        .method(unary("drain", "Drain", "crate::Drain", "crate::Drained"))
        .build();
    // Worker → coordinator: joining the cluster and staying in it.
    let membership = Service::builder()
        .name("Membership")
        .package("hayate")
        .method(unary(
            "register",
            "Register",
            "crate::WorkerAnnouncement",
            "crate::MembershipAck",
        ))
        .method(unary(
            "heartbeat",
            "Heartbeat",
            "crate::WorkerAnnouncement",
            "crate::MembershipAck",
        ))
        .build();
    // Client → coordinator: what a query is doing and what it did.
    let queries = Service::builder()
        .name("QueryInsight")
        .package("hayate")
        .method(unary(
            "progress",
            "Progress",
            "crate::QueryRef",
            "crate::QueryProgress",
        ))
        .method(unary(
            "stats",
            "Stats",
            "crate::QueryRef",
            "crate::QueryStats",
        ))
        .build();
    Builder::new().compile(&[worker, membership, queries]);
    println!("cargo:rerun-if-changed=build.rs");
}
