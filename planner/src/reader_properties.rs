//! What an exchange reader promises about its rows, and how that promise
//! travels with a plan fragment.
//!
//! The consumer's operators were planned by DataFusion over the producer's
//! properties: its orderings, its constants (a column a filter fixed to one
//! value) and its equivalences (columns a join made equal). A window
//! partitioned by a constant column, for one, relies on the constant to
//! need no sort on it, and asserts as much when it is built again from the
//! wire. So a reader must promise, after decoding on a worker, exactly what
//! its producer promised, minus what the exchange itself breaks:
//! - a gather or broadcast reader's partition is one producer partition,
//!   so everything holds;
//! - a shuffle reader's partition merges one hash partition of every
//!   producer task, so a constant that is only per partition may differ
//!   between tasks (it is dropped), and of the orderings only the one the
//!   reader merge-sorts by survives.

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::common::{Result, ScalarValue};
use datafusion::physical_expr::equivalence::{EquivalenceClass, EquivalenceGroup};
use datafusion::physical_expr::{AcrossPartitions, ConstExpr, EquivalenceProperties};
use datafusion_proto::physical_plan::from_proto::{
    parse_physical_exprs, parse_physical_sort_exprs,
};
use datafusion_proto::physical_plan::to_proto::{
    serialize_physical_exprs, serialize_physical_sort_exprs,
};
use datafusion_proto::physical_plan::{
    PhysicalExtensionCodec, PhysicalPlanDecodeContext, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf;

use crate::exchange::ExchangeKind;

/// The properties a reader of `kind` keeps of its producer's.
pub(crate) fn carried(
    kind: ExchangeKind,
    producer: &EquivalenceProperties,
) -> EquivalenceProperties {
    let mut eq = producer.clone();
    if kind == ExchangeKind::Shuffle {
        eq.clear_per_partition_constants();
        let merged_by = eq.output_ordering();
        eq.clear_orderings();
        if let Some(ordering) = merged_by {
            eq.add_ordering(ordering);
        }
    }
    eq
}

/// A reader's properties on the wire.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PropertiesNode {
    #[prost(message, repeated, tag = "1")]
    orderings: Vec<OrderingNode>,
    #[prost(message, repeated, tag = "2")]
    classes: Vec<ClassNode>,
    #[prost(message, repeated, tag = "3")]
    constants: Vec<ConstantNode>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct OrderingNode {
    #[prost(message, repeated, tag = "1")]
    sort: Vec<protobuf::PhysicalSortExprNode>,
}

/// Expressions known to be equal in every row.
#[derive(Clone, PartialEq, prost::Message)]
struct ClassNode {
    #[prost(message, repeated, tag = "1")]
    exprs: Vec<protobuf::PhysicalExprNode>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ConstantNode {
    #[prost(message, optional, tag = "1")]
    expr: Option<protobuf::PhysicalExprNode>,
    /// The same value in every partition (else only within each one).
    #[prost(bool, tag = "2")]
    uniform: bool,
    /// That value, where known.
    #[prost(message, optional, tag = "3")]
    value: Option<protobuf::ScalarValue>,
}

pub(crate) fn encode(
    eq: &EquivalenceProperties,
    codec: &dyn PhysicalExtensionCodec,
    converter: &dyn PhysicalProtoConverterExtension,
) -> Result<PropertiesNode> {
    let orderings = eq
        .oeq_class()
        .iter()
        .map(|o| {
            Ok(OrderingNode {
                sort: serialize_physical_sort_exprs(o.clone(), codec, converter)?,
            })
        })
        .collect::<Result<_>>()?;
    let classes = eq
        .eq_group()
        .iter()
        .filter(|c| c.len() > 1)
        .map(|c| {
            Ok(ClassNode {
                exprs: serialize_physical_exprs(c.iter(), codec, converter)?,
            })
        })
        .collect::<Result<_>>()?;
    let constants = eq
        .constants()
        .into_iter()
        .map(|c| {
            let (uniform, value) = match &c.across_partitions {
                AcrossPartitions::Heterogeneous => (false, None),
                AcrossPartitions::Uniform(v) => (true, v.as_ref()),
            };
            Ok(ConstantNode {
                expr: Some(converter.physical_expr_to_proto(&c.expr, codec)?),
                uniform,
                value: value.map(protobuf::ScalarValue::try_from).transpose()?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(PropertiesNode {
        orderings,
        classes,
        constants,
    })
}

pub(crate) fn decode(
    node: &PropertiesNode,
    schema: &Arc<Schema>,
    ctx: &PhysicalPlanDecodeContext<'_>,
    converter: &dyn PhysicalProtoConverterExtension,
) -> Result<EquivalenceProperties> {
    let mut eq = EquivalenceProperties::new(Arc::clone(schema));
    let classes = node
        .classes
        .iter()
        .map(|c| parse_physical_exprs(&c.exprs, ctx, schema, converter).map(EquivalenceClass::new))
        .collect::<Result<Vec<_>>>()?;
    eq.add_equivalence_group(EquivalenceGroup::new(classes))?;
    let constants = node
        .constants
        .iter()
        .filter_map(|c| c.expr.as_ref().map(|e| (e, c)))
        .map(|(expr, c)| {
            let expr = converter.proto_to_physical_expr(expr, schema, ctx)?;
            let across = match (&c.value, c.uniform) {
                (_, false) => AcrossPartitions::Heterogeneous,
                (None, true) => AcrossPartitions::Uniform(None),
                (Some(v), true) => AcrossPartitions::Uniform(Some(ScalarValue::try_from(v)?)),
            };
            Ok(ConstExpr::new(expr, across))
        })
        .collect::<Result<Vec<_>>>()?;
    eq.add_constants(constants)?;
    let orderings = node
        .orderings
        .iter()
        .map(|o| parse_physical_sort_exprs(&o.sort, ctx, schema, converter))
        .collect::<Result<Vec<_>>>()?;
    eq.add_orderings(orderings);
    Ok(eq)
}
