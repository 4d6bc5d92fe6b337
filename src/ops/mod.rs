//! The registry: every op rectify ships, each one type implementing [`Op`] in its own module
//! here (its spec, how it reads attributes, its run over element ranges, its float64
//! reference and its built-in twin), listed once in [`registry!`]. Hosts iterate [`OPS`]
//! and call [`OpParams`]; none of them names an op.

mod call;
mod leaky_relu;
mod prelu;
mod rrelu;
mod spec;

pub use call::{Call, Input, run_block};
pub use spec::{Attribute, DOMAIN, DTYPES, DType, MAX_OUTPUTS, NodeSignature, OPSET, OpSpec, TfSpec};

use half::{bf16, f16};

use crate::error::{Error, Result};
use crate::kernels::{Element, LeakyRelu, Prelu, Rrelu};

/// One activation: what it is ([`Op::SPEC`]) and everything a host needs to run it.
pub trait Op: Copy + std::fmt::Debug + PartialEq + Send + Sync + 'static {
    const SPEC: OpSpec;

    /// Reads and validates the attributes; absent ones take the registry's defaults.
    fn configure(attrs: &impl AttributeSource) -> Result<Self>;

    /// Refuses what element type `T` cannot hold (RRelu's bounds must be finite in it).
    fn check_element_type<T: Element>(&self) -> Result<()> {
        Ok(())
    }

    /// Whether results change from run to run (RRelu training): never fold into a constant.
    fn is_random(&self) -> bool {
        false
    }

    /// One call on an X of `x_shape` with the op's other inputs (in [`OpSpec::inputs`] order
    /// after X), checked here; `run` counts the node's calls (RRelu's training stream).
    fn prepare<'a, T: Element>(
        &self,
        x_shape: &[i64],
        inputs: &[Input<'a, T>],
        run: u64,
    ) -> Result<Box<dyn Call<T> + 'a>>;

    /// The float64 reference: for each element of X (row-major), the slope its exact
    /// product uses where it is negative; `None` where there is no closed form (RRelu
    /// training draws its slopes).
    fn reference_slopes(&self, x_shape: &[usize], inputs: &[(&[usize], &[f64])]) -> Option<Vec<f64>>;

    /// The standard ONNX node this one becomes without the plugin, or why there is none.
    fn twin(&self) -> Result<Twin>;
}

/// A node's built-in twin (`rectify convert --to builtin`): the standard-domain op, the
/// attributes it takes (every other one is dropped), and how its inputs change.
#[derive(Clone, Debug, PartialEq)]
pub struct Twin {
    pub op: &'static str,
    pub float_attributes: Vec<(&'static str, f32)>,
    /// The axis a 1-D slope runs along (PRelu's `axis`): the lowering reshapes the slope so
    /// it broadcasts the same way under the standard op's numpy rule.
    pub slope_axis: Option<i64>,
    /// How many outputs the twin has; a node's later outputs must be unread.
    pub outputs: usize,
}

/// Where a host's node attributes come from. `Ok(None)` means absent (use the default);
/// an error means present but unusable (wrong type), naming the attribute.
pub trait AttributeSource {
    fn float(&self, op: &'static str, name: &str) -> Result<Option<f32>>;
    fn int(&self, op: &'static str, name: &str) -> Result<Option<i64>>;
}

/// The error of a host that reads ONNX node protos (tract, `convert`) for an attribute the
/// node gives another type than the op declares.
pub fn wrong_attribute_type(op: &'static str, name: &str, want: &str, found: &str) -> Error {
    Error::invalid(op, format!("attribute '{name}' must be {want}, got {found}"))
        .on_attribute(name)
        .expected(want)
        .found(found)
}

/// Runs `$body` with `$t` bound to `dtype`'s element type.
macro_rules! with_element {
    ($dtype:expr, $t:ident => $body:expr) => {
        match $dtype {
            DType::Float => {
                type $t = f32;
                $body
            }
            DType::Double => {
                type $t = f64;
                $body
            }
            DType::Float16 => {
                type $t = f16;
                $body
            }
            DType::BFloat16 => {
                type $t = bf16;
                $body
            }
        }
    };
}

/// The one list of ops: `Kind => the type implementing [`Op`]`. It makes [`OpKind`],
/// [`OPS`] and [`OpParams`], whose methods pass each call to the op's own.
macro_rules! registry {
    ($($kind:ident => $op:ty),* $(,)?) => {
        /// An op rectify ships.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum OpKind {
            $($kind),*
        }

        /// Every op's spec, in registration order.
        pub const OPS: [OpSpec; [$(stringify!($kind)),*].len()] = [$(<$op as Op>::SPEC),*];

        /// A configured op, ready to run.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum OpParams {
            $($kind($op)),*
        }

        impl OpKind {
            pub fn spec(self) -> &'static OpSpec {
                match self {
                    $(OpKind::$kind => const { &<$op as Op>::SPEC }),*
                }
            }

            /// Reads and validates this op's attributes from a host.
            pub fn configure(self, attrs: &impl AttributeSource) -> Result<OpParams> {
                Ok(match self {
                    $(OpKind::$kind => OpParams::$kind(<$op as Op>::configure(attrs)?)),*
                })
            }
        }

        impl OpParams {
            pub fn kind(&self) -> OpKind {
                match self {
                    $(OpParams::$kind(_) => OpKind::$kind),*
                }
            }

            /// See [`Op::check_element_type`].
            pub fn check_element_type(&self, dtype: DType) -> Result<()> {
                match self {
                    $(OpParams::$kind(op) => with_element!(dtype, T => op.check_element_type::<T>())),*
                }
            }

            /// See [`Op::is_random`].
            pub fn is_random(&self) -> bool {
                match self {
                    $(OpParams::$kind(op) => op.is_random()),*
                }
            }

            /// See [`Op::prepare`].
            pub fn prepare<'a, T: Element>(
                &self,
                x_shape: &[i64],
                inputs: &[Input<'a, T>],
                run: u64,
            ) -> Result<Box<dyn Call<T> + 'a>> {
                match self {
                    $(OpParams::$kind(op) => op.prepare(x_shape, inputs, run)),*
                }
            }

            /// See [`Op::reference_slopes`].
            pub fn reference_slopes(&self, x_shape: &[usize], inputs: &[(&[usize], &[f64])]) -> Option<Vec<f64>> {
                match self {
                    $(OpParams::$kind(op) => op.reference_slopes(x_shape, inputs)),*
                }
            }

            /// See [`Op::twin`].
            pub fn twin(&self) -> Result<Twin> {
                match self {
                    $(OpParams::$kind(op) => op.twin()),*
                }
            }
        }
    };
}

registry! {
    LeakyRelu => LeakyRelu,
    PRelu => Prelu,
    RRelu => Rrelu,
}

impl OpKind {
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The op of this name, if rectify ships one.
    pub fn from_name(name: &str) -> Option<Self> {
        OPS.iter().find(|s| s.name == name).map(|s| s.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_names_its_own_kind() {
        for spec in &OPS {
            assert_eq!(spec.kind.spec().name, spec.name);
            assert_eq!(OpKind::from_name(spec.name), Some(spec.kind));
        }
        assert_eq!(OpKind::from_name("Relu"), None);
    }

    /// Every attribute absent: each op configures to its registry defaults.
    struct Absent;

    impl AttributeSource for Absent {
        fn float(&self, _: &'static str, _: &str) -> Result<Option<f32>> {
            Ok(None)
        }
        fn int(&self, _: &'static str, _: &str) -> Result<Option<i64>> {
            Ok(None)
        }
    }

    #[test]
    fn every_op_lowers_to_the_built_in_its_spec_names_with_its_outputs() {
        for spec in &OPS {
            let twin = spec.kind.configure(&Absent).unwrap().twin().unwrap();
            assert_eq!(twin.op, spec.builtin, "{}", spec.name);
            assert!(twin.outputs >= 1 && twin.outputs <= spec.outputs.len(), "{}", spec.name);
        }
    }

    #[test]
    fn a_prepared_call_gives_the_same_bits_whole_split_and_in_place() {
        let x: Vec<f32> = (0..10_000).map(|i| (i as f32 - 5_000.0) / 7.0).collect();
        let slope: Vec<f32> = vec![0.25, -0.5];
        let shape = [5_000i64, 2];
        for spec in &OPS {
            let params = spec.kind.configure(&Absent).unwrap();
            let inputs = [Input { shape: &[2][..], data: &slope[..] }];
            let inputs = &inputs[..spec.inputs.len() - 1];
            let call = params.prepare(&shape, inputs, 0).unwrap();
            let mut whole = vec![0.0f32; x.len()];
            run_block(&*call, 0, Some(&x), &mut whole, None);
            let mut split = vec![0.0f32; x.len()];
            let (a, b) = split.split_at_mut(3_333);
            run_block(&*call, 0, Some(&x[..3_333]), a, None);
            run_block(&*call, 3_333, Some(&x[3_333..]), b, None);
            let mut in_place = x.clone();
            run_block(&*call, 0, None, &mut in_place, None);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&whole), bits(&split), "{}", spec.name);
            assert_eq!(bits(&whole), bits(&in_place), "{}", spec.name);
            let slope_f64: (&[usize], &[f64]) = (&[2], &[0.25, -0.5]);
            let reference = params.reference_slopes(&[5_000, 2], &[slope_f64][..spec.inputs.len() - 1]);
            let reference = reference.expect("inference ops have a closed form");
            for (i, (&x, &y)) in x.iter().zip(&whole).enumerate() {
                let want = if x < 0.0 { (f64::from(x) * reference[i]) as f32 } else { x };
                assert_eq!(y.to_bits(), want.to_bits(), "{} element {i}", spec.name);
            }
        }
    }
}
