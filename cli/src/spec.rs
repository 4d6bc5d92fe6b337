//! `rectify info --json`: the registry as data, the one source the Python package
//! (`python/rectify/spec.json`), the model generator and the tests read instead of repeating
//! op names and defaults.

use rectify::ops::{Attribute, DOMAIN, DTYPES, DType, OPS, OPSET, OpSpec};
use serde_json::{Value, json};

/// Which hosts ship every op, and on which element types.
fn hosts() -> Value {
    let all: Vec<&str> = DTYPES.iter().map(|d| d.onnx_name()).collect();
    let tract: Vec<&str> = DTYPES.iter().filter(|&&d| d != DType::BFloat16).map(|d| d.onnx_name()).collect();
    json!({
        "onnxruntime": {"library": "librectify.so", "element_types": all},
        "c": {"library": "librectify.so", "header": "rectify.h", "element_types": all},
        "tensorflow": {"library": "librectify_tf.so", "element_types": all},
        "tract": {"crate": "rectify-tract", "element_types": tract},
    })
}

/// An f32 as the shortest decimal that reads back as it (0.01, not 0.009999999776482582).
fn float(x: f32) -> Value {
    json!(x.to_string().parse::<f64>().expect("an f32's decimal form parses"))
}

fn attribute(attr: &Attribute, op: &OpSpec) -> Value {
    let tf_default = |name: &str| op.tensorflow.defaults.iter().find(|(n, _)| *n == name).map(|&(_, v)| v);
    match *attr {
        Attribute::Float { name, default } => json!({
            "name": name,
            "type": "float",
            "default": float(default),
            "tensorflow_default": float(tf_default(name).unwrap_or(default)),
        }),
        Attribute::Int { name, default } => json!({
            "name": name,
            "type": "int",
            "default": default,
            "tensorflow_default": default,
        }),
    }
}

fn op(op: &OpSpec) -> Value {
    json!({
        "name": op.name,
        "inputs": op.inputs.iter().map(|n| json!({"name": n, "optional": false})).collect::<Vec<_>>(),
        "outputs": op.outputs.iter().map(|&(n, optional)| json!({"name": n, "optional": optional})).collect::<Vec<_>>(),
        "attributes": op.attributes.iter().map(|a| attribute(a, op)).collect::<Vec<_>>(),
        "element_types": DTYPES.iter().map(|d| d.onnx_name()).collect::<Vec<_>>(),
        "builtin": op.builtin,
        "tensorflow": {
            "name": op.tensorflow.name,
            "gradient": op.tensorflow.gradient,
            "bools": op.tensorflow.bools,
            "omitted": op.tensorflow.omitted,
            "gradient_attributes": op.tensorflow.gradient_attributes,
        },
    })
}

/// The whole registry.
pub fn spec() -> Value {
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "domain": DOMAIN,
        "opset": OPSET,
        "element_types": DTYPES.iter().map(|d| json!({"name": d.onnx_name(), "onnx_id": d.onnx_id()})).collect::<Vec<_>>(),
        "hosts": hosts(),
        "ops": OPS.iter().map(op).collect::<Vec<_>>(),
    })
}

/// `spec()` as the checked-in file holds it: pretty, one trailing newline.
pub fn spec_text() -> String {
    serde_json::to_string_pretty(&spec()).expect("a JSON value always serialises") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Python package's copy is this output (`make spec` rewrites it).
    #[test]
    fn the_python_package_ships_the_current_spec() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../python/rectify/spec.json");
        let shipped = std::fs::read_to_string(path).expect("python/rectify/spec.json");
        assert!(shipped == spec_text(), "python/rectify/spec.json is stale: run `make spec`");
    }

    #[test]
    fn every_op_lists_its_defaults_for_both_frameworks() {
        let spec = spec();
        let leaky = &spec["ops"][0];
        assert_eq!(leaky["name"], "LeakyRelu");
        assert_eq!(leaky["attributes"][0]["default"].as_f64(), Some(0.01));
        assert_eq!(leaky["attributes"][0]["tensorflow_default"].as_f64(), Some(0.2));
        assert_eq!(spec["ops"][2]["outputs"][1]["optional"], true);
        assert_eq!(spec["ops"].as_array().map(Vec::len), Some(OPS.len()));
    }
}
