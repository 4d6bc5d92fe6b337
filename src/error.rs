//! One error type for every host: it names the op and says what was expected.

use std::fmt;

/// What went wrong, so each host can map it onto its own error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A bad input, attribute or shape: the caller can fix it.
    InvalidArgument,
    /// A panic caught at a host boundary: a rectify bug.
    Panic,
    /// The host runtime itself failed or is unsupported.
    Runtime,
}

/// An error raised by a rectify op. `Display` gives `rectify: <op>: <message>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    op: &'static str,
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        Self { op, kind: ErrorKind::InvalidArgument, message: message.into() }
    }

    pub fn runtime(op: &'static str, message: impl Into<String>) -> Self {
        Self { op, kind: ErrorKind::Runtime, message: message.into() }
    }

    pub fn panic(op: &'static str, message: impl Into<String>) -> Self {
        Self { op, kind: ErrorKind::Panic, message: message.into() }
    }

    pub fn op(&self) -> &'static str {
        self.op
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rectify: {}: {}", self.op, self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Formats a shape the way users write it: `[2, 3, 4]`.
pub fn shape_string(shape: &[i64]) -> String {
    let dims: Vec<String> = shape.iter().map(i64::to_string).collect();
    format!("[{}]", dims.join(", "))
}
