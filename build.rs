//! librectify.so's soname, so a C/C++ package can install it versioned
//! (`librectify.so.0.1.0`, linked by its soname `librectify.so.0.1`; see `make install`).
//! Before 1.0 each minor release may break the ABI, so the soname carries `0.minor`.

fn main() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let minor = env!("CARGO_PKG_VERSION_MINOR");
    let abi = if major == "0" { format!("0.{minor}") } else { major.to_string() };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librectify.so.{abi}");
}
