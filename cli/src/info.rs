//! `rectify info`: what the library offers and which ONNX Runtime it would run in.

use std::ffi::{CStr, c_char};
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::type_proto::{Tensor as TensorType, Value as TypeValue};
use onnx_protobuf::{AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TypeProto, ValueInfoProto};
use rectify::ops::{Attribute, DOMAIN, DTYPES, OPS, OPSET};

use crate::{model, runtime};

pub fn info(library: Option<&Path>) -> Result<bool> {
    println!("rectify CLI {}", env!("CARGO_PKG_VERSION"));
    let mut ok = true;
    match runtime::find_library(library) {
        Ok(found) => {
            let version = library_version(&found.path).unwrap_or_else(|e| format!("unknown ({e:#})"));
            println!("library:      {} ({}), version {version}", found.path.display(), found.how);
        }
        Err(e) => {
            println!("library:      not found: {e:#}");
            ok = false;
        }
    }
    let tested = tested_releases();
    match runtime::find_onnxruntime() {
        Ok(ort) => {
            println!("ONNX Runtime: {} ({})", ort.path.display(), ort.how);
            match runtime_version(&ort.path) {
                Ok(version) => println!("              version {version}, {}", tested_verdict(&version, &tested)),
                Err(e) => println!("              version unknown: {e:#}"),
            }
            if let Ok(lib) = runtime::find_library(library) {
                match registration_check(&ort.path, &lib.path) {
                    Ok(()) => println!("              registers the rectify domain and runs a rectify::LeakyRelu"),
                    Err(e) => {
                        println!("              registration FAILED: {e:#}");
                        ok = false;
                    }
                }
            }
        }
        Err(e) => {
            println!("ONNX Runtime: {e:#}");
            ok = false;
        }
    }
    if let (Some(oldest), Some(newest)) = (tested.first(), tested.last()) {
        println!(
            "tested with:  ONNX Runtime {oldest} to {newest}, every minor release ({} releases, `make test`)",
            tested.len()
        );
    }
    println!("domain:       {DOMAIN} (opset {OPSET})");
    let dtypes: Vec<&str> = DTYPES.iter().map(|d| d.onnx_name()).collect();
    println!("dtypes:       {}", dtypes.join(", "));
    println!("ops:");
    for op in &OPS {
        let outputs: Vec<String> = op
            .outputs
            .iter()
            .map(|(n, optional)| if *optional { format!("{n} (optional)") } else { n.to_string() })
            .collect();
        println!("  {:<10} inputs {}; outputs {}", op.name, op.inputs.join(", "), outputs.join(", "));
        for attr in op.attributes {
            let text = match attr {
                Attribute::Float { name, default } => format!("{name}: float = {default}"),
                Attribute::Int { name, default: Some(d) } => format!("{name}: int = {d}"),
                Attribute::Int { name, default: None } => format!("{name}: int (optional, no default)"),
            };
            println!("  {:<10} attribute {text}", "");
        }
    }
    Ok(ok)
}

/// The ONNX Runtime releases `make test` runs the suites on: one per minor release
/// (tests/matrix/ort-releases.txt), oldest first.
fn tested_releases() -> Vec<&'static str> {
    const RELEASES: &str = include_str!("../../tests/matrix/ort-releases.txt");
    RELEASES.lines().filter_map(|line| line.split('#').next()?.split_whitespace().next()).collect()
}

fn minor_of(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}

/// Whether `version` is a minor release the matrix tests.
fn tested_verdict(version: &str, tested: &[&str]) -> String {
    let Some(minor) = minor_of(version) else { return "not a version rectify knows".to_string() };
    match tested.iter().find(|t| minor_of(t) == Some(minor)) {
        Some(t) if *t == version => "a tested release".to_string(),
        Some(t) => format!("minor release tested at {t}"),
        None if tested.last().and_then(|t| minor_of(t)).is_some_and(|newest| minor > newest) => {
            "NEWER than every tested release".to_string()
        }
        None => "NOT a tested release (rectify supports ONNX Runtime >= 1.16)".to_string(),
    }
}

/// `OrtGetApiBase()->GetVersionString()` of the ONNX Runtime library at `path`.
fn runtime_version(path: &Path) -> Result<String> {
    // SAFETY: loading ONNX Runtime runs only its static initialisers (the session check
    // loads it anyway); it is never unloaded (leaked below), as it is not built to be.
    let lib = unsafe { libloading::Library::new(path) }.context("dlopen")?;
    let version = {
        // SAFETY: `OrtGetApiBase` is ONNX Runtime's C entry point, `const OrtApiBase *(void)`.
        let get_base = unsafe { lib.get::<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase>(b"OrtGetApiBase\0") }
            .context("no OrtGetApiBase symbol: not ONNX Runtime?")?;
        // SAFETY: it returns a pointer to a static table, or NULL (refused below).
        let base = unsafe { get_base().as_ref() }.ok_or_else(|| anyhow!("OrtGetApiBase returned NULL"))?;
        // SAFETY: GetVersionString returns a static NUL-terminated string, copied here.
        unsafe { CStr::from_ptr((base.GetVersionString)()) }.to_string_lossy().into_owned()
    };
    std::mem::forget(lib);
    Ok(version)
}

/// `rectify_version()` from the shared library itself.
fn library_version(path: &Path) -> Result<String> {
    // SAFETY: librectify.so has no load-time side effects beyond registering nothing; the
    // symbol is `const char *rectify_version(void)` per ffi/rectify.h, returning a static
    // NUL-terminated string, read before the library is unloaded.
    unsafe {
        let lib = libloading::Library::new(path).context("dlopen")?;
        let version: libloading::Symbol<unsafe extern "C" fn() -> *const c_char> =
            lib.get(b"rectify_version\0").context("no rectify_version symbol: an older librectify.so?")?;
        Ok(CStr::from_ptr(version()).to_string_lossy().into_owned())
    }
}

/// Loads the library into a session on a one-node rectify model and runs it.
fn registration_check(ort: &Path, library: &Path) -> Result<()> {
    let env = runtime::ort_environment(ort)?;
    let bytes = model::to_bytes(&one_node_model())?;
    let mut session = runtime::ort_session(env, &bytes, Some(library))?;
    let x = crate::array::Array::from_slice(crate::array::ElemType::F32, vec![2], &[-2.0f32, 3.0])?;
    let y = runtime::ort_run(&mut session, &[("X".into(), x)])?;
    let got = y.first().map(|(_, a)| a.to_vec::<f32>()).ok_or_else(|| anyhow!("no output"))?;
    if got != [-1.0, 3.0] {
        return Err(anyhow!("rectify::LeakyRelu(alpha=0.5) of [-2, 3] gave {got:?}"));
    }
    Ok(())
}

/// `Y = rectify::LeakyRelu(X, alpha = 0.5)` on float[2].
fn one_node_model() -> ModelProto {
    let value = |name: &str| {
        let mut tensor = TensorType::new();
        tensor.elem_type = 1;
        let mut shape = onnx_protobuf::TensorShapeProto::new();
        let mut dim = onnx_protobuf::tensor_shape_proto::Dimension::new();
        dim.set_dim_value(2);
        shape.dim.push(dim);
        tensor.shape = Some(shape).into();
        let mut ty = TypeProto::new();
        ty.value = Some(TypeValue::TensorType(tensor));
        let mut v = ValueInfoProto::new();
        v.name = name.into();
        v.type_ = Some(ty).into();
        v
    };
    let mut alpha = AttributeProto::new();
    alpha.name = "alpha".into();
    alpha.f = 0.5;
    alpha.type_ = AttributeType::FLOAT.into();
    let mut node = NodeProto::new();
    node.op_type = "LeakyRelu".into();
    node.domain = DOMAIN.into();
    node.input = vec!["X".into()];
    node.output = vec!["Y".into()];
    node.attribute = vec![alpha];
    let mut graph = GraphProto::new();
    graph.name = "rectify-info".into();
    graph.node = vec![node];
    graph.input = vec![value("X")];
    graph.output = vec![value("Y")];
    let mut model = ModelProto::new();
    model.ir_version = 8;
    model.graph = Some(graph).into();
    for (domain, version) in [("", 17), (DOMAIN, OPSET)] {
        let mut opset = OperatorSetIdProto::new();
        opset.domain = domain.into();
        opset.version = version;
        model.opset_import.push(opset);
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tested_range_is_every_minor_release_from_1_16() {
        let tested = tested_releases();
        assert_eq!(tested.first(), Some(&"1.16.3"));
        let minors: Vec<u32> = tested.iter().map(|t| minor_of(t).unwrap().1).collect();
        assert!(minors.windows(2).all(|w| w[1] == w[0] + 1), "a minor release is missing: {tested:?}");
    }

    #[test]
    fn a_runtime_is_placed_against_the_tested_releases() {
        let tested = ["1.16.3", "1.17.3", "1.32.0"];
        assert_eq!(tested_verdict("1.17.3", &tested), "a tested release");
        assert_eq!(tested_verdict("1.17.1", &tested), "minor release tested at 1.17.3");
        assert_eq!(tested_verdict("1.33.0", &tested), "NEWER than every tested release");
        assert_eq!(tested_verdict("1.15.1", &tested), "NOT a tested release (rectify supports ONNX Runtime >= 1.16)");
        assert_eq!(tested_verdict("garbage", &tested), "not a version rectify knows");
    }
}
