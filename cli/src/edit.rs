//! What `convert` and its fusion share about editing a graph: the change report, the
//! shape lookup, attributes and fresh names.

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::{AttributeProto, GraphProto, NodeProto};

use rectify::ops::DTYPES;

use crate::model::ValueType;

/// Whether ONNX element type `id` is one rectify computes (the registry's [`DTYPES`]).
pub fn is_rectify_type(id: i32) -> bool {
    DTYPES.iter().any(|t| t.onnx_id() == id)
}

/// What happened to one node.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub node: String,
    pub rewritten: bool,
    pub detail: String,
}

/// Where the types of values the model does not declare come from (shape inference).
pub type Shapes<'a> = &'a mut dyn FnMut(&str) -> Option<ValueType>;

pub fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

pub fn float_attr(name: &str, value: f32) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.f = value;
    a.type_ = AttributeType::FLOAT.into();
    a
}

/// `base`, or `base_2`, `base_3`... whichever no value, node or initializer uses yet.
pub fn unique_name(graph: &GraphProto, base: &str) -> String {
    let taken = |name: &str| {
        graph
            .node
            .iter()
            .any(|n| n.name == name || n.output.iter().any(|o| o == name) || n.input.iter().any(|i| i == name))
            || graph.initializer.iter().any(|t| t.name == name)
            || graph.input.iter().chain(&graph.output).chain(&graph.value_info).any(|v| v.name == name)
    };
    (1..).map(|k| if k == 1 { base.to_string() } else { format!("{base}_{k}") }).find(|n| !taken(n)).unwrap()
}

/// How many node inputs read `value`, subgraphs included (they can name outer values).
pub fn reads(graph: &GraphProto, value: &str) -> usize {
    graph
        .node
        .iter()
        .map(|n| {
            n.input.iter().filter(|i| *i == value).count()
                + n.attribute
                    .iter()
                    .flat_map(|a| a.g.as_ref().into_iter().chain(&a.graphs))
                    .map(|g| reads(g, value))
                    .sum::<usize>()
        })
        .sum()
}
