//! The ONNX Runtime host: `RegisterCustomOps`, API version negotiation and the one
//! `rectify` custom-op domain of this library load.

mod api;
mod custom_op;
#[cfg(feature = "fault-injection")]
mod fault;
mod kernel;
mod shape;

use std::ffi::{CStr, CString};
use std::io::Write;
use std::ptr;
use std::sync::{Mutex, PoisonError};

use ort_sys::{OrtApiBase, OrtCustomOpDomain, OrtSessionOptions, OrtStatus};

use self::api::{Api, SHAPE_REFERENCE_API};
use self::custom_op::RectifyOp;
use crate::boundary;
use crate::error::{Error, Result};
use crate::ops::{DOMAIN, DTYPES, OPS};

/// Oldest ONNX Runtime whose API has the V2 kernel callbacks rectify relies on.
pub const MIN_ORT_MINOR: u32 = 16;
/// Newest `OrtCustomOp` layout rectify fills (ort-sys's v17 struct plus the v18 in-place
/// fields of `RectifyOp`).
pub const MAX_OP_VERSION: u32 = 18;

const REGISTER: &str = "RegisterCustomOps";

/// The API version of a runtime whose version string is `version` (`"1.31.1"` -> 31: ORT's
/// minor is its API version); refuses runtimes older than 1.16.
pub fn runtime_api_version(version: &str) -> Result<u32> {
    let mut parts = version.trim().split('.').map(str::parse::<u32>);
    let (major, minor) = match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor),
        _ => return Err(Error::runtime(REGISTER, format!("cannot parse ONNX Runtime version '{version}'"))),
    };
    if major == 0 || (major == 1 && minor < MIN_ORT_MINOR) {
        return Err(Error::runtime(
            REGISTER,
            format!("ONNX Runtime {version} is too old: rectify needs ONNX Runtime >= 1.{MIN_ORT_MINOR}"),
        ));
    }
    Ok(if major > 1 { u32::MAX } else { minor })
}

/// The API version to request for the custom ops: the runtime's, capped at the layout we fill.
pub fn negotiate_api_version(version: &str) -> Result<u32> {
    Ok(runtime_api_version(version)?.min(MAX_OP_VERSION))
}

/// The domain and ops of this library load. ORT keeps raw pointers to both for as long
/// as any session uses them, so they live until the library is unloaded.
struct Registry {
    api: Api,
    domain: *mut OrtCustomOpDomain,
    _ops: Box<[RectifyOp]>,
}

// SAFETY: the domain is only touched under the REGISTRY lock; ORT's own use is thread-safe.
unsafe impl Send for Registry {}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn create_registry(api: Api, api_version: u32) -> Result<Registry> {
    let raw = api.raw();
    let ops: Box<[RectifyOp]> = OPS
        .iter()
        .flat_map(|spec| DTYPES.iter().map(move |&dtype| RectifyOp::new(spec.kind, dtype, api, api_version)))
        .collect();
    let name = CString::new(DOMAIN).expect("domain name has no NUL");
    let mut domain = ptr::null_mut();
    // SAFETY: ORT copies the name and returns a domain we own.
    api.check(REGISTER, "CreateCustomOpDomain", unsafe { (raw.CreateCustomOpDomain)(name.as_ptr(), &mut domain) })?;
    for op in ops.iter() {
        // SAFETY: `op` lives in the boxed slice kept with the domain, never moved or freed.
        let status = unsafe { (raw.CustomOpDomain_Add)(domain, op.as_raw()) };
        if let Err(err) = api.check(REGISTER, "CustomOpDomain_Add", status) {
            // SAFETY: no session has seen this domain yet.
            unsafe { (raw.ReleaseCustomOpDomain)(domain) };
            return Err(err);
        }
    }
    Ok(Registry { api, domain, _ops: ops })
}

/// Releases the domain and ops when the library is unloaded, if no kernel is alive.
///
/// `RegisterCustomOpsLibrary_V2` (Python's `register_custom_ops_library`) unloads the
/// library after its last session, so nothing can use the domain any more; without this
/// every load/unload cycle would leak it. At process exit with sessions still alive,
/// ONNX Runtime may yet destroy kernels through our ops, so then they are left alone.
extern "C" fn release_on_unload() {
    boundary::catch_or((), || {
        let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
        if kernel::live_kernels() == 0
            && let Some(registry) = registry.take()
        {
            // SAFETY: no kernel is alive and the library is going away: no session can
            // reach the domain; we created it and release it once.
            unsafe { (registry.api.raw().ReleaseCustomOpDomain)(registry.domain) };
        }
    })
}

/// Runs [`release_on_unload`] on `dlclose` (and at exit), like a C destructor.
#[used]
#[unsafe(link_section = ".fini_array")]
static RELEASE_ON_UNLOAD: extern "C" fn() = release_on_unload;

/// Reports `err` through version 1 of the API, which every ONNX Runtime has: used when the
/// negotiated table cannot be had, or registration panicked.
fn fail_early(api_base: &OrtApiBase, err: &Error) -> *mut OrtStatus {
    // SAFETY: GetApi(1) returns a static table (or NULL, handled).
    match unsafe { (api_base.GetApi)(1).as_ref() } {
        Some(api1) => api::status_from(api1, err),
        None => {
            let _ = writeln!(std::io::stderr(), "{err} (and ONNX Runtime has no API version 1 to report it)");
            ptr::null_mut()
        }
    }
}

/// Registers the `rectify` domain on `options`.
///
/// # Safety
/// `options` and `api_base` must be the pointers ONNX Runtime passes to a custom-op library.
unsafe fn register(options: *mut OrtSessionOptions, api_base: &OrtApiBase) -> *mut OrtStatus {
    #[cfg(feature = "fault-injection")]
    fault::inject_at_registration();
    // SAFETY: GetVersionString returns a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr((api_base.GetVersionString)()) }.to_string_lossy().into_owned();
    let (runtime_api, api_version) =
        match runtime_api_version(&version).and_then(|r| Ok((r, negotiate_api_version(&version)?))) {
            Ok(v) => v,
            Err(err) => return fail_early(api_base, &err),
        };
    // SAFETY: the runtime supports `api_version` (negotiated above); the table is static.
    let Some(raw) = (unsafe { (api_base.GetApi)(api_version).as_ref() }) else {
        let err = Error::runtime(REGISTER, format!("ONNX Runtime {version} has no API version {api_version}"));
        return fail_early(api_base, &err);
    };
    // SAFETY: `raw` is the table for `api_version`.
    let mut api = unsafe { Api::new(raw, api_version) };
    // Asked only of runtimes that have it: GetApi logs an error for versions it lacks.
    if runtime_api >= SHAPE_REFERENCE_API {
        // SAFETY: GetApi returns a static table for a version the runtime supports, or NULL.
        if let Some(table) = unsafe { (api_base.GetApi)(SHAPE_REFERENCE_API).as_ref() } {
            // SAFETY: `table` is the version-24 table.
            api = unsafe { api.with_shape_reference(table) };
        }
    }
    let result = boundary::catch(REGISTER, || {
        let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
        let registry = match registry.as_mut() {
            Some(r) => r,
            None => registry.insert(create_registry(api, api_version)?),
        };
        // SAFETY: `options` is valid for this call; the domain outlives every session.
        api.check(REGISTER, "AddCustomOpDomain", unsafe { (raw.AddCustomOpDomain)(options, registry.domain) })
    });
    match result {
        Ok(()) => ptr::null_mut(),
        Err(err) => api.status(&err),
    }
}

/// Entry point for `RegisterCustomOpsLibrary_V2` / Python's `register_custom_ops_library`.
///
/// NULL means success to ONNX Runtime, so every failure, a panic included, comes back as
/// an `OrtStatus`; only a NULL `api_base`, which leaves no way to build one, returns NULL
/// (and says so on stderr).
///
/// # Safety
/// Called by ONNX Runtime with a valid `OrtSessionOptions*` and `OrtApiBase*`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn RegisterCustomOps(
    options: *mut OrtSessionOptions,
    api_base: *const OrtApiBase,
) -> *mut OrtStatus {
    boundary::catch_or(ptr::null_mut(), || {
        // SAFETY: ORT passes a valid (or, defensively, NULL) OrtApiBase.
        let Some(base) = (unsafe { api_base.as_ref() }) else {
            let _ =
                writeln!(std::io::stderr(), "rectify: {REGISTER}: called with a NULL OrtApiBase: nothing registered");
            return ptr::null_mut();
        };
        // SAFETY: forwarded from ORT unchanged.
        match boundary::catch(REGISTER, || Ok(unsafe { register(options, base) })) {
            Ok(status) => status,
            Err(panic) => fail_early(base, &panic),
        }
    })
}

/// Same as [`RegisterCustomOps`], for `RegisterCustomOpsUsingFunction`.
///
/// # Safety
/// As for [`RegisterCustomOps`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn RegisterCustomOpsAltName(
    options: *mut OrtSessionOptions,
    api_base: *const OrtApiBase,
) -> *mut OrtStatus {
    // SAFETY: forwarded from ORT unchanged.
    unsafe { RegisterCustomOps(options, api_base) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_caps_at_the_filled_layout() {
        assert_eq!(negotiate_api_version("1.31.1"), Ok(18));
        assert_eq!(negotiate_api_version("1.18.0"), Ok(18));
        assert_eq!(negotiate_api_version("1.17.0"), Ok(17));
        assert_eq!(negotiate_api_version("1.16.3"), Ok(16));
        assert_eq!(negotiate_api_version("2.0.0"), Ok(18));
        // The runtime's own version decides which newer entries of its table exist.
        assert_eq!(runtime_api_version("1.31.1"), Ok(31));
        assert_eq!(runtime_api_version("1.16.3"), Ok(16));
        assert_eq!(runtime_api_version("2.0.0"), Ok(u32::MAX));
    }

    #[test]
    fn old_runtimes_are_refused_by_version() {
        let err = negotiate_api_version("1.15.1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "rectify: RegisterCustomOps: ONNX Runtime 1.15.1 is too old: rectify needs ONNX Runtime >= 1.16"
        );
        assert!(negotiate_api_version("garbage").unwrap_err().message().contains("cannot parse"));
    }
}
