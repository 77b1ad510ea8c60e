//! Plan fragments on the wire: `datafusion-proto` bytes, with an extension
//! codec for Hayate's own operator (the exchange reader).

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::physical_plan::{FileScanConfig, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::bytes::{
    physical_plan_from_bytes_with_proto_converter, physical_plan_to_bytes_with_proto_converter,
};
use datafusion_proto::physical_plan::from_proto::parse_physical_exprs;
use datafusion_proto::physical_plan::to_proto::serialize_physical_exprs;
use datafusion_proto::physical_plan::{
    DeduplicatingProtoConverter, PhysicalExtensionCodec, PhysicalPlanDecodeContext,
    PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf;
use prost::Message;

use crate::exchange::{ExchangeKind, ExchangeReaderExec, PartitionSource};
use crate::reader_properties::{self, PropertiesNode};

#[derive(Clone, PartialEq, prost::Message)]
struct ExchangeReaderNode {
    #[prost(int32, tag = "1")]
    kind: i32,
    #[prost(uint32, tag = "2")]
    input_stage: u32,
    #[prost(message, optional, tag = "3")]
    schema: Option<protobuf::Schema>,
    #[prost(message, repeated, tag = "4")]
    partitions: Vec<SourceList>,
    /// What the reader promises of its rows (orderings, constants,
    /// equivalences): it merges its sources by the ordering, and the
    /// operators above were planned on all of it.
    #[prost(message, optional, tag = "7")]
    properties: Option<PropertiesNode>,
    /// A shuffle reader's hash keys: the operators above may rely on its
    /// partitions being co-partitioned with the stage's other shuffle
    /// readers (an `InterleaveExec` checks it when it is decoded).
    #[prost(message, repeated, tag = "6")]
    hash_keys: Vec<protobuf::PhysicalExprNode>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SourceList {
    #[prost(message, repeated, tag = "1")]
    sources: Vec<PartitionSource>,
}

/// Encodes and decodes Hayate's operators inside DataFusion plans.
#[derive(Debug, Default)]
pub struct HayateCodec;

impl PhysicalExtensionCodec for HayateCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        _inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let node = ExchangeReaderNode::decode(buf)
            .map_err(|e| DataFusionError::Internal(format!("bad exchange reader node: {e}")))?;
        let schema = node
            .schema
            .as_ref()
            .ok_or_else(|| DataFusionError::Internal("exchange reader without schema".into()))?;
        let schema: Schema = schema.try_into()?;
        let sources = node.partitions.into_iter().map(|p| p.sources).collect();
        let schema = Arc::new(schema);
        let decode_ctx = PhysicalPlanDecodeContext::new(ctx, self);
        let hash_keys =
            parse_physical_exprs(&node.hash_keys, &decode_ctx, &schema, proto_converter)?;
        let eq = match &node.properties {
            Some(p) => reader_properties::decode(p, &schema, &decode_ctx, proto_converter)?,
            None => EquivalenceProperties::new(Arc::clone(&schema)),
        };
        Ok(Arc::new(
            ExchangeReaderExec::new(
                ExchangeKind::from_wire(node.kind)?,
                node.input_stage as usize,
                schema,
                sources,
                Some(eq),
            )
            .with_hash_keys(hash_keys),
        ))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let reader = node.downcast_ref::<ExchangeReaderExec>().ok_or_else(|| {
            DataFusionError::NotImplemented(format!("Hayate cannot ship operator {}", node.name()))
        })?;
        let schema: protobuf::Schema = reader.schema().as_ref().try_into()?;
        let msg = ExchangeReaderNode {
            kind: reader.kind().to_wire(),
            input_stage: reader.input_stage() as u32,
            schema: Some(schema),
            partitions: reader
                .sources()
                .iter()
                .map(|s| SourceList { sources: s.clone() })
                .collect(),
            properties: Some(reader_properties::encode(
                &reader.properties().eq_properties,
                self,
                proto_converter,
            )?),
            hash_keys: serialize_physical_exprs(reader.hash_keys(), self, proto_converter)?,
        };
        msg.encode(buf)
            .map_err(|e| DataFusionError::Internal(format!("cannot encode exchange reader: {e}")))
    }
}

/// A plan fragment as bytes for a worker.
pub fn encode_plan(plan: Arc<dyn ExecutionPlan>) -> Result<Vec<u8>> {
    let bytes = physical_plan_to_bytes_with_proto_converter(
        plan,
        &HayateCodec,
        &DeduplicatingProtoConverter {},
    )?;
    Ok(bytes.to_vec())
}

/// The plan fragment that [`encode_plan`] wrote.
pub fn decode_plan(bytes: &[u8], ctx: &TaskContext) -> Result<Arc<dyn ExecutionPlan>> {
    let plan = physical_plan_from_bytes_with_proto_converter(
        bytes,
        ctx,
        &HayateCodec,
        &DeduplicatingProtoConverter {},
    )?;
    let plan = with_footer_hints(plan)?;
    if cfg!(debug_assertions) {
        crate::check_fragment(&plan)?;
    }
    Ok(plan)
}

/// `plan` with each Parquet scan's footer size hint set again from its
/// table options. `datafusion-proto` 55 carries the options but does not
/// apply the hint when it decodes a scan, so a worker read each footer in
/// three GETs (its last 8 bytes, the footer, the page index) before the
/// data: with the hint (512 KiB) one GET reads a small file whole.
fn with_footer_hints(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        let Some(config) = node
            .downcast_ref::<DataSourceExec>()
            .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
        else {
            return Ok(Transformed::no(node));
        };
        let Some(source) = config.file_source().downcast_ref::<ParquetSource>() else {
            return Ok(Transformed::no(node));
        };
        let Some(hint) = source.table_parquet_options().global.metadata_size_hint else {
            return Ok(Transformed::no(node));
        };
        let source = source.clone().with_metadata_size_hint(hint);
        let config = FileScanConfigBuilder::from(config.clone())
            .with_source(Arc::new(source))
            .build();
        Ok(Transformed::yes(
            DataSourceExec::from_data_source(config) as Arc<dyn ExecutionPlan>
        ))
    })
    .map(|t| t.data)
}
