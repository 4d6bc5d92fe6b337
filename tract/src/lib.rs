//! The tract host (crate `rectify-tract`): [`register`] makes `tract_onnx` run models that
//! contain `rectify` nodes, with rectify's kernels.
//!
//! tract looks ops up by `op_type` alone and ignores the node's domain, so a `rectify`
//! LeakyRelu would silently run tract's own. [`register`] therefore installs one dispatcher
//! under `LeakyRelu`, `PRelu` and `RRelu` that keys on (domain, op): `rectify` nodes get
//! rectify's ops, standard-domain nodes keep the builder tract had, and anything else is a
//! clear error (there is no standard `RRelu`).

mod node;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::{NodeProto, attribute_proto::AttributeType};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;

use rectify::ops::{AttributeSource, DOMAIN, OPS, OpKind, wrong_attribute_type};

pub use node::{RectifyExpansion, RectifyOp};

/// tract-onnx's op builder signature (its own alias is private).
type Builder = fn(&ParsingContext, &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

/// The builders `register` displaced, by op name: what standard-domain nodes still use.
static STANDARD_BUILDERS: Mutex<Option<HashMap<String, Builder>>> = Mutex::new(None);

/// Installs rectify's ops into `onnx`. Calling it again, on this or another `Onnx`, is
/// harmless: a builder that is already the dispatcher is never saved as the standard one.
pub fn register(onnx: &mut tract_onnx::Onnx) {
    let mut saved = STANDARD_BUILDERS.lock().unwrap_or_else(PoisonError::into_inner);
    let saved = saved.get_or_insert_with(HashMap::new);
    for spec in &OPS {
        if let Some(&builder) = onnx.op_register.0.get(spec.name)
            && builder as usize != dispatch as Builder as usize
        {
            saved.insert(spec.name.to_string(), builder);
        }
        onnx.op_register.insert(spec.name, dispatch);
    }
}

/// Builds the op for one node, by (domain, op_type).
fn dispatch(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    match node.domain.as_str() {
        DOMAIN => {
            let kind =
                OpKind::from_name(&node.op_type).ok_or_else(|| format_err!("rectify has no op '{}'", node.op_type))?;
            Ok((rectify_op(kind, node)?, vec![]))
        }
        "" | "ai.onnx" => {
            let standard = STANDARD_BUILDERS.lock().unwrap_or_else(PoisonError::into_inner);
            match standard.as_ref().and_then(|b| b.get(&node.op_type)) {
                Some(builder) => builder(ctx, node),
                None => bail!("unsupported operator: the standard ONNX domain has no '{}'", node.op_type),
            }
        }
        other => bail!("unsupported operator '{}' in domain '{other}'", node.op_type),
    }
}

fn rectify_op(kind: OpKind, node: &NodeProto) -> TractResult<Box<dyn InferenceOp>> {
    let params = kind.configure(&NodeAttributes(node)).map_err(|e| format_err!("node '{}': {e}", node.name))?;
    let signature =
        kind.spec().signature(&node.input, &node.output).map_err(|e| format_err!("node '{}': {e}", node.name))?;
    // tract numbers the non-empty outputs; rectify's optional outputs come after Y.
    Ok(expand(RectifyExpansion::new(params, signature.output_count())))
}

/// A node's attributes, read the way the ONNX Runtime host reads them.
struct NodeAttributes<'a>(&'a NodeProto);

impl NodeAttributes<'_> {
    fn find(
        &self,
        op: &'static str,
        name: &str,
        want: AttributeType,
    ) -> rectify::Result<Option<&tract_onnx::pb::AttributeProto>> {
        let Some(attr) = self.0.attribute.iter().find(|a| a.name == name) else { return Ok(None) };
        if attr.r#type != want as i32 {
            let got = AttributeType::try_from(attr.r#type).map_or("unknown", |t| t.as_str_name());
            return Err(wrong_attribute_type(op, name, want.as_str_name(), got));
        }
        Ok(Some(attr))
    }
}

impl AttributeSource for NodeAttributes<'_> {
    fn float(&self, op: &'static str, name: &str) -> rectify::Result<Option<f32>> {
        Ok(self.find(op, name, AttributeType::Float)?.map(|a| a.f))
    }

    fn int(&self, op: &'static str, name: &str) -> rectify::Result<Option<i64>> {
        Ok(self.find(op, name, AttributeType::Int)?.map(|a| a.i))
    }
}
