//! What the registry says of each op: its inputs, outputs, attributes with defaults, the
//! element types, its built-in twin and how TensorFlow names it. Pure data, and the check
//! of a node's inputs and outputs against it.

use crate::error::{Error, Result};
use crate::ops::OpKind;

/// The ONNX domain of rectify's ops, and its opset version.
pub const DOMAIN: &str = "rectify";
pub const OPSET: i64 = 1;

/// A tensor element type rectify computes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    Float,
    Double,
    Float16,
    BFloat16,
}

/// Every element type, in the order hosts register them.
pub const DTYPES: [DType; 4] = [DType::Float, DType::Double, DType::Float16, DType::BFloat16];

/// An attribute with its ONNX type and default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attribute {
    Float { name: &'static str, default: f32 },
    Int { name: &'static str, default: Option<i64> },
}

impl Attribute {
    pub fn name(&self) -> &'static str {
        match self {
            Attribute::Float { name, .. } | Attribute::Int { name, .. } => name,
        }
    }
}

/// How TensorFlow sees an op (librectify_tf.so): its name, its gradient op, and the
/// attributes whose TensorFlow default differs from ONNX's (`tf.nn.leaky_relu`'s alpha is
/// 0.2). TensorFlow's `training` is a bool where ONNX has an int.
#[derive(Clone, Copy, Debug)]
pub struct TfSpec {
    pub name: &'static str,
    pub gradient: &'static str,
    pub defaults: &'static [(&'static str, f32)],
    /// Int attributes TensorFlow types as bool.
    pub bools: &'static [&'static str],
    /// Attributes TensorFlow's op does not have (its PRelu broadcasts numpy-style only).
    pub omitted: &'static [&'static str],
    /// The attributes the gradient op takes too.
    pub gradient_attributes: &'static [&'static str],
}

impl TfSpec {
    /// The TensorFlow default of float attribute `name` (ONNX's unless the table says).
    pub fn float_default(&self, name: &str, onnx: f32) -> f32 {
        self.defaults.iter().find(|(n, _)| *n == name).map_or(onnx, |&(_, v)| v)
    }
}

/// An op's signature: names of its inputs and outputs (optional ones flagged), attributes,
/// the built-in ONNX op it lowers to (`rectify convert --to builtin`), and how TensorFlow
/// names it. Every host registers every op on every element type in [`DTYPES`] (tract: not
/// bfloat16, which it lacks).
#[derive(Clone, Copy, Debug)]
pub struct OpSpec {
    pub kind: OpKind,
    pub name: &'static str,
    pub inputs: &'static [&'static str],
    /// (name, optional)
    pub outputs: &'static [(&'static str, bool)],
    pub attributes: &'static [Attribute],
    /// The standard-domain op a node becomes without the plugin (RRelu: LeakyRelu at the
    /// mean slope, inference only).
    pub builtin: &'static str,
    /// Whether Y may take X's buffer (ONNX Runtime's MayInplace): not for an op whose
    /// other outputs follow X.
    pub in_place: bool,
    pub tensorflow: TfSpec,
}

/// Most outputs any rectify op declares.
pub const MAX_OUTPUTS: usize = 2;

/// Which of its op's declared outputs a node has. ONNX omits a trailing optional output by
/// leaving it out and a middle one by an empty name, so the op's declared count is not the
/// node's; hosts ask their runtime only for outputs listed here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeSignature {
    outputs: [bool; MAX_OUTPUTS],
}

impl NodeSignature {
    /// Whether the node has output `index` (named, so the runtime allocates it).
    pub fn has_output(&self, index: usize) -> bool {
        self.outputs.get(index).copied().unwrap_or(false)
    }

    /// How many outputs the node has.
    pub fn output_count(&self) -> usize {
        self.outputs.iter().filter(|&&present| present).count()
    }
}

impl OpSpec {
    /// Checks a node's input and output names ("" = omitted) against this op: every input
    /// present, no output beyond the declared ones, every required output present.
    pub fn signature(&self, inputs: &[String], outputs: &[String]) -> Result<NodeSignature> {
        let op = self.name;
        if inputs.len() != self.inputs.len() {
            let (found, expected) = (inputs.len(), self.inputs.len());
            let names = self.inputs.join(", ");
            return Err(Error::invalid(op, format!("the node has {found} input(s), expected {expected} ({names})"))
                .expected(format!("{expected} inputs ({names})"))
                .found(format!("{found} inputs")));
        }
        if let Some(i) = inputs.iter().position(String::is_empty) {
            let message = format!("input '{}' is missing (an empty name in the node)", self.inputs[i]);
            return Err(Error::invalid(op, message)
                .on_input(self.inputs[i])
                .expected("present")
                .found("an empty name"));
        }
        if outputs.len() > self.outputs.len() {
            let declared: Vec<&str> = self.outputs.iter().map(|&(name, _)| name).collect();
            let (found, most) = (outputs.len(), declared.len());
            let names = declared.join(", ");
            return Err(Error::invalid(op, format!("the node has {found} outputs, expected at most {most} ({names})"))
                .expected(format!("at most {most} outputs ({names})"))
                .found(format!("{found} outputs")));
        }
        let mut present = [false; MAX_OUTPUTS];
        for (i, &(name, optional)) in self.outputs.iter().enumerate() {
            present[i] = outputs.get(i).is_some_and(|n| !n.is_empty());
            if !present[i] && !optional {
                return Err(Error::invalid(op, format!("output '{name}' is missing"))
                    .on_output(name)
                    .expected("present")
                    .found("absent"));
            }
        }
        Ok(NodeSignature { outputs: present })
    }
}

impl DType {
    /// The ONNX name, as in `tensor(float)`.
    pub const fn onnx_name(self) -> &'static str {
        match self {
            DType::Float => "float",
            DType::Double => "double",
            DType::Float16 => "float16",
            DType::BFloat16 => "bfloat16",
        }
    }

    /// `TensorProto.DataType`'s number.
    pub const fn onnx_id(self) -> i32 {
        match self {
            DType::Float => 1,
            DType::Double => 11,
            DType::Float16 => 10,
            DType::BFloat16 => 16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::OPS;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn check(kind: OpKind, inputs: &[&str], outputs: &[&str]) -> Result<NodeSignature> {
        kind.spec().signature(&names(inputs), &names(outputs))
    }

    #[test]
    fn every_op_fits_in_max_outputs() {
        assert!(OPS.iter().all(|op| op.outputs.len() <= MAX_OUTPUTS));
    }

    #[test]
    fn omitted_optional_outputs_are_absent_whichever_way_they_are_omitted() {
        let one = check(OpKind::RRelu, &["x"], &["y"]).unwrap();
        let empty = check(OpKind::RRelu, &["x"], &["y", ""]).unwrap();
        let two = check(OpKind::RRelu, &["x"], &["y", "s"]).unwrap();
        assert!(one.has_output(0) && !one.has_output(1));
        assert_eq!(one, empty);
        assert!(two.has_output(0) && two.has_output(1));
        assert!(!two.has_output(2) && !two.has_output(usize::MAX));
        assert_eq!((one.output_count(), two.output_count()), (1, 2));
    }

    #[test]
    fn missing_or_extra_inputs_and_outputs_name_what_was_expected() {
        let message = |r: Result<NodeSignature>| r.unwrap_err().to_string();
        assert_eq!(
            message(check(OpKind::PRelu, &["x"], &["y"])),
            "rectify: PRelu: the node has 1 input(s), expected 2 (X, slope)"
        );
        assert_eq!(
            message(check(OpKind::PRelu, &["x", ""], &["y"])),
            "rectify: PRelu: input 'slope' is missing (an empty name in the node)"
        );
        assert_eq!(message(check(OpKind::LeakyRelu, &["x"], &[])), "rectify: LeakyRelu: output 'Y' is missing");
        assert_eq!(message(check(OpKind::RRelu, &["x"], &["", "s"])), "rectify: RRelu: output 'Y' is missing");
        assert_eq!(
            message(check(OpKind::RRelu, &["x"], &["y", "s", "t"])),
            "rectify: RRelu: the node has 3 outputs, expected at most 2 (Y, Slope)"
        );
    }
}
