use ort::session::Session;

fn main() -> ort::Result<()> {
    // ORT_DYLIB_PATH=.../onnxruntime/capi/libonnxruntime.so.1.32.0 (ort's `load-dynamic`)
    let env = ort::init().with_name("rectify-example").build()?;
    let session = Session::builder(&env)?
        .with_operator_library("target/release/librectify.so")?
        .commit_from_file("models/leaky_relu_float.onnx")?;
    let inputs: Vec<&str> = session.inputs().iter().map(|input| input.name()).collect();
    println!("a rectify::LeakyRelu session with inputs {inputs:?}");
    Ok(())
}
