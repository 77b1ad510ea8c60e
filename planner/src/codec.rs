//! Plan fragments on the wire: `datafusion-proto` bytes, with an extension
//! codec for Hayate's own operator (the exchange reader).

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::bytes::{
    physical_plan_from_bytes_with_proto_converter, physical_plan_to_bytes_with_proto_converter,
};
use datafusion_proto::physical_plan::{
    DeduplicatingProtoConverter, PhysicalExtensionCodec, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf;
use prost::Message;

use crate::exchange::{ExchangeKind, ExchangeReaderExec, PartitionSource};

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
        _ctx: &TaskContext,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let node = ExchangeReaderNode::decode(buf)
            .map_err(|e| DataFusionError::Internal(format!("bad exchange reader node: {e}")))?;
        let schema = node
            .schema
            .as_ref()
            .ok_or_else(|| DataFusionError::Internal("exchange reader without schema".into()))?;
        let schema: Schema = schema.try_into()?;
        let sources = node.partitions.into_iter().map(|p| p.sources).collect();
        Ok(Arc::new(ExchangeReaderExec::new(
            ExchangeKind::from_wire(node.kind)?,
            node.input_stage as usize,
            Arc::new(schema),
            sources,
            None,
        )))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
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
    physical_plan_from_bytes_with_proto_converter(
        bytes,
        ctx,
        &HayateCodec,
        &DeduplicatingProtoConverter {},
    )
}
