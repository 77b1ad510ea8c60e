//! Hayate's planner: DataFusion builds and optimizes the physical plan; this
//! crate cuts it into a DAG of stages at exchange boundaries, decides how many
//! tasks each stage gets, builds each task's plan fragment and ships fragments
//! as `datafusion-proto` bytes. Pure: no network, no clocks.

pub mod broadcast;
pub mod codec;
pub mod exchange;
pub mod explain;
mod fragment_check;
pub mod functions;
mod fuse;
pub mod options;
mod reader_properties;
pub mod slice;
pub mod split;
pub mod stage;

pub use broadcast::{BroadcastJoins, physical_optimizer_rules};
pub use codec::{HayateCodec, decode_plan, encode_plan};
pub use exchange::{
    ExchangeKind, ExchangeReaderExec, FetcherExtension, PartitionFetcher, PartitionSource,
};
pub use explain::explain_stages;
pub use fragment_check::check_fragment;
pub use functions::with_hayate_functions;
pub use options::HayateOptions;
pub use slice::{ProducerLayout, reader_sources, task_plan};
pub use split::{SplitOptions, file_scans, single_task_reason, split_into_stages};
pub use stage::{Placement, Stage, StageGraph};
