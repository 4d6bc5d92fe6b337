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

/// What an error is about: the node as a whole, or one of its inputs, outputs or attributes
/// (by its name in the op's spec).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    Node,
    Input(String),
    Output(String),
    Attribute(String),
}

/// An error raised by a rectify op. `Display` gives `rectify: <op>: <message>`; the fields
/// say the same for programs: what it is about, what was expected, what was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    op: &'static str,
    kind: ErrorKind,
    message: String,
    // Boxed: most errors travel through `Result`s on hot paths that never fail.
    detail: Box<Detail>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Detail {
    subject: Subject,
    expected: Option<String>,
    found: Option<String>,
}

impl Error {
    fn new(op: &'static str, kind: ErrorKind, message: String) -> Self {
        Self { op, kind, message, detail: Box::new(Detail { subject: Subject::Node, expected: None, found: None }) }
    }

    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        Self::new(op, ErrorKind::InvalidArgument, message.into())
    }

    pub fn runtime(op: &'static str, message: impl Into<String>) -> Self {
        Self::new(op, ErrorKind::Runtime, message.into())
    }

    pub fn panic(op: &'static str, message: impl Into<String>) -> Self {
        Self::new(op, ErrorKind::Panic, message.into())
    }

    /// About the attribute `name`.
    pub fn on_attribute(mut self, name: impl Into<String>) -> Self {
        self.detail.subject = Subject::Attribute(name.into());
        self
    }

    /// About the input `name`.
    pub fn on_input(mut self, name: impl Into<String>) -> Self {
        self.detail.subject = Subject::Input(name.into());
        self
    }

    /// About the output `name`.
    pub fn on_output(mut self, name: impl Into<String>) -> Self {
        self.detail.subject = Subject::Output(name.into());
        self
    }

    /// What a valid value would have been (`"a finite float"`, `"0 or 1"`, a shape).
    pub fn expected(mut self, what: impl Into<String>) -> Self {
        self.detail.expected = Some(what.into());
        self
    }

    /// What the node had instead.
    pub fn found(mut self, what: impl fmt::Display) -> Self {
        self.detail.found = Some(what.to_string());
        self
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

    pub fn subject(&self) -> &Subject {
        &self.detail.subject
    }

    pub fn expected_value(&self) -> Option<&str> {
        self.detail.expected.as_deref()
    }

    pub fn found_value(&self) -> Option<&str> {
        self.detail.found.as_deref()
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
