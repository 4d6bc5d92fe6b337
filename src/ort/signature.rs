//! The inputs and outputs a node really has, read once when its kernel is created. ONNX
//! omits a trailing optional output by leaving it out and a middle one by an empty name,
//! so the op's declared count is not the node's: ONNX Runtime checks no index we pass it
//! (1.17-1.27 abort on one past the end), so compute asks only for outputs listed here.

use super::api::{KernelInfo, Side};
use crate::error::{Error, Result};
use crate::ops::OpSpec;

/// Most outputs any rectify op declares.
pub const MAX_OUTPUTS: usize = 2;

/// Which of the op's declared outputs the node has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeSignature {
    outputs: [bool; MAX_OUTPUTS],
}

impl NodeSignature {
    /// Reads the node's input and output names and checks them against `spec`: every
    /// input present, no output beyond the declared ones, every required output present.
    pub fn read(info: &KernelInfo, spec: &OpSpec) -> Result<Self> {
        let inputs = info.names(spec.name, Side::Input)?;
        let outputs = info.names(spec.name, Side::Output)?;
        Self::check(spec, &inputs, &outputs)
    }

    fn check(spec: &OpSpec, inputs: &[String], outputs: &[String]) -> Result<Self> {
        let op = spec.name;
        let expected: Vec<&str> = spec.inputs.to_vec();
        if inputs.len() != spec.inputs.len() {
            return Err(Error::invalid(
                op,
                format!(
                    "the node has {} input(s), expected {} ({})",
                    inputs.len(),
                    spec.inputs.len(),
                    expected.join(", ")
                ),
            ));
        }
        if let Some(i) = inputs.iter().position(String::is_empty) {
            return Err(Error::invalid(
                op,
                format!("input '{}' is missing (an empty name in the node)", spec.inputs[i]),
            ));
        }
        let declared: Vec<&str> = spec.outputs.iter().map(|&(name, _)| name).collect();
        if outputs.len() > spec.outputs.len() {
            return Err(Error::invalid(
                op,
                format!(
                    "the node has {} outputs, expected at most {} ({})",
                    outputs.len(),
                    declared.len(),
                    declared.join(", ")
                ),
            ));
        }
        let mut present = [false; MAX_OUTPUTS];
        for (i, &(name, optional)) in spec.outputs.iter().enumerate() {
            present[i] = outputs.get(i).is_some_and(|n| !n.is_empty());
            if !present[i] && !optional {
                return Err(Error::invalid(op, format!("output '{name}' is missing")));
            }
        }
        Ok(Self { outputs: present })
    }

    /// Whether the node has output `index` (named, so ONNX Runtime allocates it).
    pub fn has_output(&self, index: usize) -> bool {
        self.outputs.get(index).copied().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{OPS, OpKind};

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn check(kind: OpKind, inputs: &[&str], outputs: &[&str]) -> Result<NodeSignature> {
        NodeSignature::check(kind.spec(), &names(inputs), &names(outputs))
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
