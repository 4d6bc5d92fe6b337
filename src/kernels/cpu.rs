//! Which instruction-set levels this CPU runs, detected once. A leaf: the kernels import
//! it, it imports none of them. Each op's module keeps its own builds for each level; the
//! dispatch table (`super::dispatch`) picks among them once per element type.

use std::sync::OnceLock;

/// An instruction-set level this CPU supports. Only [`Level::best`] and
/// [`Level::supported`] make one, so holding a `Level` proves the CPU has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level(pub(crate) Isa);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// Declares, for each x86 level, the CPU features its code is compiled with and the
/// detection of exactly those features: one list, so a level can never run code for a
/// feature it did not check. `levels_detect_every_feature_their_code_enables` reads every
/// `#[target_feature]` in the crate against these lists.
#[cfg(target_arch = "x86_64")]
macro_rules! x86_levels {
    ($($isa:ident: [$($feature:tt),+];)+) => {
        impl Isa {
            /// The features this level's `#[target_feature]` code may enable.
            #[cfg(test)]
            fn features(self) -> &'static [&'static str] {
                match self {
                    $(Isa::$isa => &[$($feature),+],)+
                    Isa::Portable => &[],
                }
            }

            /// Whether this CPU has every one of them.
            fn detected(self) -> bool {
                match self {
                    $(Isa::$isa => true $(&& is_x86_feature_detected!($feature))+,)+
                    Isa::Portable => true,
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
x86_levels! {
    Avx2: ["avx2", "fma", "f16c"];
    Avx512: ["avx512f", "avx512bw", "avx512vl", "avx2", "fma", "f16c"];
}

impl Level {
    /// The fastest level this CPU supports, detected once.
    pub fn best() -> Level {
        static BEST: OnceLock<Level> = OnceLock::new();
        *BEST.get_or_init(|| *Level::supported().last().expect("portable is always supported"))
    }

    /// The portable level, which every CPU has.
    pub fn portable() -> Level {
        Level(Isa::Portable)
    }

    /// Every level this CPU supports, slowest first.
    pub fn supported() -> Vec<Level> {
        let mut levels = vec![Level(Isa::Portable)];
        #[cfg(target_arch = "x86_64")]
        for isa in [Isa::Avx2, Isa::Avx512] {
            if !isa.detected() {
                break;
            }
            levels.push(Level(isa));
        }
        levels
    }

    /// Whether this level runs AVX-512 code.
    pub fn is_avx512(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        if self.0 == Isa::Avx512 {
            return true;
        }
        false
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            Isa::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "avx512",
        }
    }
}

/// Whether the streaming loops (`super::lanes`) ask for their lines ahead of the hardware
/// prefetchers on this CPU, decided once. Measured with bench-tf (tf.function, float32,
/// alternating builds): on the AMD EPYC where the prefetches were added and on an AVX-512
/// Xeon asking ahead was faster or level; on a Zen 3 EPYC (family 19h, no AVX-512) it was
/// slower on the buffers evicted from the caches (three runs each way:
/// LeakyRelu + gradient at 64K 0.82-0.86x with, 0.95-0.96x without; RreluGrad at 1M
/// 0.87-0.90x with, 0.96-1.03x without).
#[cfg(target_arch = "x86_64")]
pub(crate) fn prefetches_ahead() -> bool {
    static AHEAD: OnceLock<bool> = OnceLock::new();
    *AHEAD.get_or_init(|| !is_zen3())
}

/// AMD family 19h without AVX-512: Zen 3 (Zen 4, the same family, has AVX-512).
#[cfg(target_arch = "x86_64")]
fn is_zen3() -> bool {
    use std::arch::x86_64::__cpuid;
    let (vendor, signature) = (__cpuid(0), __cpuid(1).eax);
    let name: Vec<u8> = [vendor.ebx, vendor.edx, vendor.ecx].iter().flat_map(|r| r.to_le_bytes()).collect();
    let base = (signature >> 8) & 0xf;
    let family = if base == 0xf { base + ((signature >> 20) & 0xff) } else { base };
    name == b"AuthenticAMD" && family == 0x19 && !is_x86_feature_detected!("avx512f")
}

/// The build of a kernel for `level`: `pick!(level, portable, avx2, avx512)`. The arms are
/// function items coerced to the pointer type the caller names; the x86 ones exist only there.
macro_rules! pick {
    ($level:expr, $portable:expr, $avx2:expr, $avx512:expr) => {
        match $level.0 {
            $crate::kernels::cpu::Isa::Portable => $portable,
            #[cfg(target_arch = "x86_64")]
            $crate::kernels::cpu::Isa::Avx2 => $avx2,
            #[cfg(target_arch = "x86_64")]
            $crate::kernels::cpu::Isa::Avx512 => $avx512,
        }
    };
}
pub(crate) use pick;

/// Compiles one generic body twice, with the AVX2 and the AVX-512 level's features:
/// `per_level!(name_avx2, name_avx512, (args) => body)`. The compiler vectorises the same
/// scalar code for each, so the levels' bits cannot differ.
///
/// With `<V: Lanes>` before the arguments, the body is generic over a vector type instead
/// (`super::lanes`); the table then names each build with the vector of its level.
#[cfg(target_arch = "x86_64")]
macro_rules! per_level {
    ($avx2:ident, $avx512:ident, ($($arg:ident: $ty:ty),*) => $body:expr) => {
        $crate::kernels::cpu::per_level!(
            $avx2, $avx512, <T: $crate::kernels::element::Scalar> ($($arg: $ty),*) => $body
        );
    };
    ($avx2:ident, $avx512:ident, <$g:ident: $bound:path> ($($arg:ident: $ty:ty),*) => $body:expr) => {
        #[target_feature(enable = "avx2,fma,f16c")]
        pub fn $avx2<$g: $bound>($($arg: $ty),*) {
            $body
        }

        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
        pub fn $avx512<$g: $bound>($($arg: $ty),*) {
            $body
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use per_level;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `#[target_feature]` in the crate enables only features that its level's
    /// detection checks (AVX-512 code is the code that enables any `avx512*` feature).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn levels_detect_every_feature_their_code_enables() {
        fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    rust_files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        rust_files(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        // Built from pieces, so that this test's own source holds no match.
        let pattern = ["#[target_feature(enable", " = \""].concat();
        let mut attributes = 0;
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            for rest in text.split(pattern.as_str()).skip(1) {
                let features: Vec<&str> = rest.split('"').next().unwrap().split(',').map(str::trim).collect();
                let isa = if features.iter().any(|f| f.starts_with("avx512")) { Isa::Avx512 } else { Isa::Avx2 };
                for feature in &features {
                    assert!(
                        isa.features().contains(feature),
                        "{}: #[target_feature] enables {feature}, which {isa:?} detection does not check",
                        file.display()
                    );
                }
                attributes += 1;
            }
        }
        assert!(attributes >= 15, "found only {attributes} #[target_feature] attributes");
    }
}
