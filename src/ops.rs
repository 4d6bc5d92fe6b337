//! The registry: every op rectify ships, its inputs, outputs, attributes with defaults, and
//! the element types it runs on. Hosts build their op tables from this list alone.

use crate::error::Result;
use crate::kernels::{LeakyRelu, Prelu, Rrelu, leaky_relu, prelu, rrelu};

/// The ONNX domain of rectify's ops, and its opset version.
pub const DOMAIN: &str = "rectify";
pub const OPSET: i64 = 1;

/// An op rectify ships.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    LeakyRelu,
    PRelu,
    RRelu,
}

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

/// An op's signature: names of its inputs and outputs (optional ones flagged).
#[derive(Clone, Copy, Debug)]
pub struct OpSpec {
    pub kind: OpKind,
    pub name: &'static str,
    pub inputs: &'static [&'static str],
    /// (name, optional)
    pub outputs: &'static [(&'static str, bool)],
    pub attributes: &'static [Attribute],
}

/// THE list of ops.
pub const OPS: [OpSpec; 3] = [
    OpSpec {
        kind: OpKind::LeakyRelu,
        name: leaky_relu::OP,
        inputs: &["X"],
        outputs: &[("Y", false)],
        attributes: &[Attribute::Float { name: "alpha", default: leaky_relu::DEFAULT_ALPHA }],
    },
    OpSpec {
        kind: OpKind::PRelu,
        name: prelu::OP,
        inputs: &["X", "slope"],
        outputs: &[("Y", false)],
        attributes: &[Attribute::Int { name: "axis", default: None }],
    },
    OpSpec {
        kind: OpKind::RRelu,
        name: rrelu::OP,
        inputs: &["X"],
        outputs: &[("Y", false), ("Slope", true)],
        attributes: &[
            Attribute::Float { name: "lower", default: rrelu::DEFAULT_LOWER },
            Attribute::Float { name: "upper", default: rrelu::DEFAULT_UPPER },
            Attribute::Int { name: "training", default: Some(0) },
            Attribute::Int { name: "seed", default: Some(0) },
        ],
    },
];

impl OpKind {
    pub fn spec(self) -> &'static OpSpec {
        match self {
            OpKind::LeakyRelu => &OPS[0],
            OpKind::PRelu => &OPS[1],
            OpKind::RRelu => &OPS[2],
        }
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Reads and validates this op's attributes from a host; absent ones take defaults.
    pub fn configure(self, attrs: &impl AttributeSource) -> Result<OpParams> {
        let op = self.name();
        Ok(match self {
            OpKind::LeakyRelu => {
                OpParams::LeakyRelu(LeakyRelu::new(attrs.float(op, "alpha")?.unwrap_or(leaky_relu::DEFAULT_ALPHA))?)
            }
            OpKind::PRelu => OpParams::PRelu(Prelu::new(attrs.int(op, "axis")?)),
            OpKind::RRelu => OpParams::RRelu(Rrelu::new(
                attrs.float(op, "lower")?.unwrap_or(rrelu::DEFAULT_LOWER),
                attrs.float(op, "upper")?.unwrap_or(rrelu::DEFAULT_UPPER),
                attrs.int(op, "training")?.unwrap_or(0),
                attrs.int(op, "seed")?.unwrap_or(0),
            )?),
        })
    }
}

/// Where a host's node attributes come from. `Ok(None)` means absent (use the default);
/// an error means present but unusable (wrong type), naming the attribute.
pub trait AttributeSource {
    fn float(&self, op: &'static str, name: &str) -> Result<Option<f32>>;
    fn int(&self, op: &'static str, name: &str) -> Result<Option<i64>>;
}

/// A configured op, ready to run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OpParams {
    LeakyRelu(LeakyRelu),
    PRelu(Prelu),
    RRelu(Rrelu),
}

impl OpParams {
    /// Checks what depends on the element type (RRelu's bounds must fit it).
    pub fn check_element_type(&self, dtype: DType) -> Result<()> {
        let OpParams::RRelu(p) = self else { return Ok(()) };
        match dtype {
            DType::Float => p.check_element_type::<f32>(),
            DType::Double => p.check_element_type::<f64>(),
            DType::Float16 => p.check_element_type::<half::f16>(),
            DType::BFloat16 => p.check_element_type::<half::bf16>(),
        }
    }

    pub fn kind(&self) -> OpKind {
        match self {
            OpParams::LeakyRelu(_) => OpKind::LeakyRelu,
            OpParams::PRelu(_) => OpKind::PRelu,
            OpParams::RRelu(_) => OpKind::RRelu,
        }
    }
}
