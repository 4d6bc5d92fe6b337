//! The `rectify` CLI as a library: ONNX model IO (external data included), conversion and
//! fusion, the runtimes, and `verify`'s checks and report. The binary (`src/main.rs`) parses
//! flags; the fuzz targets (`fuzz/`) drive [`convert::convert_bytes`].

/// Prints unless `$brief` (`verify --brief`: one line per model).
macro_rules! say {
    ($brief:expr, $($arg:tt)*) => {
        if !$brief {
            println!($($arg)*);
        }
    };
}

pub mod array;
pub mod convert;
pub mod edit;
pub mod external;
pub mod fuse;
pub mod info;
pub mod model;
pub mod npy;
pub mod per_node;
pub mod report;
pub mod runtime;
pub mod spec;
pub mod tensor_file;
pub mod triton;
pub mod verify;
