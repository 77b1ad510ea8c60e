//! The `hayate` binary as users run it: real coordinator and worker
//! processes on loopback ports, driven by `hayate sql` and `hayate local`.

mod chaos;
mod cluster;
mod containers;
mod coordinator_loss;
mod high_availability;
mod processes;
mod s3;
mod sign_in;
mod sqllogic;
mod traces;
mod worker_loss;
