//! `rectify convert` on mutated models (the seed corpus: models/ and the tf2onnx fixtures):
//! every input gives a model that parses back or a clear error, never a panic, in both
//! directions and with fusion (inexact included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rectify_cli::convert::{Target, convert_bytes};

fuzz_target!(|data: &[u8]| {
    for target in [
        Target::Rectify { all: true, fuse_inexact: true },
        Target::Rectify { all: false, fuse_inexact: false },
        Target::Builtin,
    ] {
        if let Ok(out) = convert_bytes(data, target) {
            // What convert wrote converts again.
            let _ = convert_bytes(&out, Target::Builtin);
        }
    }
});
