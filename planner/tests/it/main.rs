//! Plan-splitting tests: which exchanges a plan gets, how many tasks each
//! stage runs, what each task reads, and that fragments survive the wire.

mod broadcast;
mod partitioning;
mod split;
