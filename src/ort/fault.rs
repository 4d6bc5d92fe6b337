//! Test-only fault injection (cargo feature `fault-injection`, never in a shipped build):
//! a LeakyRelu whose `alpha` is a sentinel panics at one callback, so tests can prove the
//! panic reaches the host as an error and the host keeps running. Registration has no
//! attributes: there the environment variable `RECTIFY_FAULT=RegisterCustomOps` asks.

use crate::ops::OpParams;

/// Where a panic can be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// `CreateKernelV2`: alpha = 1001.
    CreateKernel,
    /// `KernelComputeV2`, before any work: alpha = 1002.
    Compute,
    /// The second `KernelContext_ParallelFor` task: alpha = 1003.
    ParallelTask,
}

impl Point {
    fn sentinel(self) -> f32 {
        match self {
            Point::CreateKernel => 1001.0,
            Point::Compute => 1002.0,
            Point::ParallelTask => 1003.0,
        }
    }
}

/// Panics if `params` asks for a fault at `point`.
pub fn inject(point: Point, params: &OpParams) {
    if let OpParams::LeakyRelu(p) = params
        && p.alpha() == point.sentinel()
    {
        panic!("injected fault at {point:?}");
    }
}

/// Panics inside `RegisterCustomOps`, outside its inner boundary, if the environment asks.
pub fn inject_at_registration() {
    if std::env::var_os("RECTIFY_FAULT").is_some_and(|v| v == "RegisterCustomOps") {
        panic!("injected fault at RegisterCustomOps");
    }
}
