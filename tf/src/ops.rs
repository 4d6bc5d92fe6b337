//! The op definitions TensorFlow sees, and their registration: each op with its inputs,
//! outputs, attributes, shape function and one CPU kernel per element type.
//!
//! Names and attributes come from the registry (`rectify::ops`, its TensorFlow table): names
//! never reuse a core TensorFlow op (`LeakyRelu` would break `tf.nn.leaky_relu`
//! process-wide), they live under `Rectify>`; `alpha` defaults to TensorFlow's 0.2. What is
//! TensorFlow's alone stays here: input and output names, statefulness, shape functions.

use std::ffi::{CString, c_void};

use crate::api::{
    Api, CreateFn, ShapeFn, Status, TF_OpKernelConstruction, TF_OpKernelContext, TF_ShapeInferenceContext, TF_Status,
};
use rectify::ops::{Attribute, OpKind};

use crate::kernels::{self, Construction, Kernel};

const T_ATTR: &str = "T: {half, bfloat16, float, double} = DT_FLOAT";

/// One op: the registry's op (or its gradient), its TensorFlow signature, and how its kernel
/// is made.
pub struct OpDef {
    pub op: OpKind,
    pub gradient: bool,
    pub inputs: &'static [&'static str],
    pub outputs: &'static [&'static str],
    pub stateful: bool,
    /// For each output, the input whose shape it has.
    pub shape_fn: ShapeFn,
    pub create: CreateFn,
}

/// THE list of ops.
pub const OPS: [OpDef; 6] = [
    OpDef {
        op: OpKind::LeakyRelu,
        gradient: false,
        inputs: &["features: T"],
        outputs: &["activations: T"],
        stateful: false,
        shape_fn: shape_of_input_0,
        create: create_leaky_relu,
    },
    OpDef {
        op: OpKind::LeakyRelu,
        gradient: true,
        inputs: &["gradients: T", "features: T"],
        outputs: &["backprops: T"],
        stateful: false,
        shape_fn: shape_of_input_0,
        create: create_leaky_relu_grad,
    },
    OpDef {
        op: OpKind::PRelu,
        gradient: false,
        inputs: &["features: T", "slope: T"],
        outputs: &["activations: T"],
        stateful: false,
        shape_fn: shape_of_input_0,
        create: create_prelu,
    },
    OpDef {
        op: OpKind::PRelu,
        gradient: true,
        inputs: &["gradients: T", "features: T", "slope: T"],
        outputs: &["backprops: T", "slope_backprops: T"],
        stateful: false,
        shape_fn: shapes_of_features_and_slope,
        create: create_prelu_grad,
    },
    OpDef {
        op: OpKind::RRelu,
        gradient: false,
        inputs: &["features: T"],
        outputs: &["activations: T", "slopes: T"],
        // Training draws new slopes on every run: never constant-folded or deduplicated.
        stateful: true,
        shape_fn: shapes_of_input_0_twice,
        create: create_rrelu,
    },
    OpDef {
        op: OpKind::RRelu,
        gradient: true,
        inputs: &["gradients: T", "slopes: T"],
        outputs: &["backprops: T"],
        stateful: false,
        shape_fn: shape_of_input_0,
        create: create_rrelu_grad,
    },
];

impl OpDef {
    /// `Rectify>Name` (or its gradient's), from the registry.
    pub fn name(&self) -> &'static str {
        let tf = &self.op.spec().tensorflow;
        if self.gradient { tf.gradient } else { tf.name }
    }

    /// The registry's attributes in TensorFlow's syntax and defaults (a gradient takes only
    /// those its rule needs), then the element type.
    pub fn attrs(&self) -> Vec<String> {
        let spec = self.op.spec();
        let tf = &spec.tensorflow;
        let mut attrs: Vec<String> = spec
            .attributes
            .iter()
            .filter(|a| !tf.omitted.contains(&a.name()))
            .filter(|a| !self.gradient || tf.gradient_attributes.contains(&a.name()))
            .map(|a| match *a {
                Attribute::Float { name, default } => format!("{name}: float = {}", tf.float_default(name, default)),
                Attribute::Int { name, default } if tf.bools.contains(&name) => {
                    format!("{name}: bool = {}", default.unwrap_or(0) != 0)
                }
                Attribute::Int { name, default: Some(d) } => format!("{name}: int = {d}"),
                Attribute::Int { name, default: None } => format!("{name}: int"),
            })
            .collect();
        attrs.push(T_ATTR.to_string());
        attrs
    }
}

/// TF_DataType of every element type the kernels run on.
const DTYPES: [(std::ffi::c_int, &str); 4] = [(1, "float"), (2, "double"), (19, "half"), (14, "bfloat16")];

/// Registers every op and its kernels; the first error stops it.
pub fn register_all(api: &Api) -> Result<(), String> {
    for op in &OPS {
        register_op(api, op)?;
        for (dtype, name) in DTYPES {
            register_kernel(api, op, dtype).map_err(|e| format!("{} kernel for {name}: {e}", op.name()))?;
        }
    }
    Ok(())
}

fn cstring(s: &str) -> CString {
    CString::new(s).expect("op specs have no NUL")
}

fn register_op(api: &Api, op: &OpDef) -> Result<(), String> {
    let status = Status::new(api);
    let name = cstring(op.name());
    // SAFETY: the builder is created, filled with NUL-terminated specs TF copies, and handed
    // to TF_RegisterOpDefinition, which takes ownership of it.
    unsafe {
        let builder = (api.TF_NewOpDefinitionBuilder)(name.as_ptr());
        for input in op.inputs {
            (api.TF_OpDefinitionBuilderAddInput)(builder, cstring(input).as_ptr());
        }
        for output in op.outputs {
            (api.TF_OpDefinitionBuilderAddOutput)(builder, cstring(output).as_ptr());
        }
        for attr in op.attrs() {
            (api.TF_OpDefinitionBuilderAddAttr)(builder, cstring(&attr).as_ptr());
        }
        // Only for a stateful op: TensorFlow's builder marks the op stateful whatever the
        // flag says (every op came out stateful, which serialised them in tf.function).
        if op.stateful {
            (api.TF_OpDefinitionBuilderSetIsStateful)(builder, true);
        }
        (api.TF_OpDefinitionBuilderSetShapeInferenceFunction)(builder, op.shape_fn);
        (api.TF_RegisterOpDefinition)(builder, status.raw());
    }
    if status.is_ok() { Ok(()) } else { Err(format!("{}: {}", op.name(), status.message())) }
}

fn register_kernel(api: &Api, op: &OpDef, dtype: std::ffi::c_int) -> Result<(), String> {
    let status = Status::new(api);
    let (name, device, t) = (cstring(op.name()), c"CPU", c"T");
    // SAFETY: NUL-terminated names TF copies; the callbacks live as long as the process
    // (the library is linked -z nodelete); TF_RegisterKernelBuilder takes the builder.
    unsafe {
        let builder = (api.TF_NewKernelBuilder)(name.as_ptr(), device.as_ptr(), op.create, compute, delete);
        (api.TF_KernelBuilder_TypeConstraint)(builder, t.as_ptr(), dtype, status.raw());
        if !status.is_ok() {
            return Err(status.message());
        }
        (api.TF_RegisterKernelBuilder)(name.as_ptr(), builder, status.raw());
    }
    if status.is_ok() { Ok(()) } else { Err(status.message()) }
}

/// Sets output `output` to the shape of input `input`.
///
/// # Safety
/// `ctx` and `status` are what TensorFlow passed to a shape function.
unsafe fn forward_shape(ctx: *mut TF_ShapeInferenceContext, status: *mut TF_Status, input: i32, output: i32) {
    let Some(api) = crate::api::api() else { return };
    // SAFETY: a fresh handle, filled from input `input`, copied into output `output`, freed.
    unsafe {
        let handle = (api.TF_NewShapeHandle)();
        (api.TF_ShapeInferenceContextGetInput)(ctx, input, handle, status);
        if (api.TF_GetCode)(status) == crate::api::TF_OK {
            (api.TF_ShapeInferenceContextSetOutput)(ctx, output, handle, status);
        }
        (api.TF_DeleteShapeHandle)(handle);
    }
}

/// Shape functions: no panic can start in them (plain FFI calls), but each is wrapped anyway.
macro_rules! shape_fn {
    ($name:ident, $(($input:expr, $output:expr)),*) => {
        unsafe extern "C" fn $name(ctx: *mut TF_ShapeInferenceContext, status: *mut TF_Status) {
            rectify::boundary::catch_or((), || {
                // SAFETY: TensorFlow's shape-function arguments, passed through.
                $(unsafe { forward_shape(ctx, status, $input, $output) };)*
            });
        }
    };
}
shape_fn!(shape_of_input_0, (0, 0));
shape_fn!(shapes_of_features_and_slope, (1, 0), (2, 1));
shape_fn!(shapes_of_input_0_twice, (0, 0), (0, 1));

/// One create callback per op (TensorFlow does not say which op a kernel is for).
macro_rules! create_fn {
    ($name:ident, $op:literal, $build:expr) => {
        unsafe extern "C" fn $name(raw: *mut TF_OpKernelConstruction) -> *mut c_void {
            // SAFETY: TensorFlow's construction context, passed through.
            unsafe { kernels::create(raw, $op, $build) }
        }
    };
}
create_fn!(create_leaky_relu, "LeakyRelu", kernels::leaky_relu);
create_fn!(create_leaky_relu_grad, "LeakyReluGrad", kernels::leaky_relu_grad);
create_fn!(create_prelu, "Prelu", |_: &Construction<'_>| Ok(Kernel::Prelu));
create_fn!(create_prelu_grad, "PreluGrad", |_: &Construction<'_>| Ok(Kernel::PreluGrad));
create_fn!(create_rrelu, "Rrelu", kernels::rrelu);
create_fn!(create_rrelu_grad, "RreluGrad", |_: &Construction<'_>| Ok(Kernel::RreluGrad));

unsafe extern "C" fn compute(kernel: *mut c_void, ctx: *mut TF_OpKernelContext) {
    // SAFETY: the kernel `create` made and TensorFlow's context, passed through.
    unsafe { kernels::compute(kernel, ctx) }
}

unsafe extern "C" fn delete(kernel: *mut c_void) {
    // SAFETY: the kernel `create` made, deleted once by TensorFlow.
    unsafe { kernels::delete(kernel) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What TensorFlow sees, spelled out: the registry's names and defaults in TF's syntax.
    #[test]
    fn definitions_are_the_registrys_in_tensorflows_syntax() {
        let defs: Vec<(&str, Vec<String>)> = OPS.iter().map(|o| (o.name(), o.attrs())).collect();
        let t = T_ATTR.to_string();
        let alpha = "alpha: float = 0.2".to_string();
        let rrelu = ["lower: float = 0.125", "upper: float = 0.33333334", "training: bool = false", "seed: int = 0"];
        let mut rrelu: Vec<String> = rrelu.iter().map(|a| a.to_string()).collect();
        rrelu.push(t.clone());
        assert_eq!(
            defs,
            [
                ("Rectify>LeakyRelu", vec![alpha.clone(), t.clone()]),
                ("Rectify>LeakyReluGrad", vec![alpha, t.clone()]),
                ("Rectify>Prelu", vec![t.clone()]),
                ("Rectify>PreluGrad", vec![t.clone()]),
                ("Rectify>Rrelu", rrelu),
                ("Rectify>RreluGrad", vec![t]),
            ]
        );
    }

    /// Every registry op has its op and its gradient here.
    #[test]
    fn every_registry_op_is_registered_with_its_gradient() {
        for spec in &rectify::ops::OPS {
            for gradient in [false, true] {
                assert!(OPS.iter().any(|o| o.op == spec.kind && o.gradient == gradient), "{} {gradient}", spec.name);
            }
        }
    }
}
