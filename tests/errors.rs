//! Every validation error says, as fields, what it is about, what was expected and what
//! was found (besides its message), so hosts and programs need not parse the text.

use rectify::kernels::prelu::{channel_slope, element_count};
use rectify::kernels::{LeakyRelu, Rrelu, broadcast_slope};
use rectify::ops::OPS;
use rectify::{Error, ErrorKind, Subject};

fn fields(e: &Error) -> (&Subject, Option<&str>, Option<&str>) {
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    (e.subject(), e.expected_value(), e.found_value())
}

fn attribute(name: &str) -> Subject {
    Subject::Attribute(name.to_string())
}

fn input(name: &str) -> Subject {
    Subject::Input(name.to_string())
}

#[test]
fn attribute_errors_name_the_attribute_and_the_value() {
    let e = LeakyRelu::new(f32::NAN).unwrap_err();
    assert_eq!(fields(&e), (&attribute("alpha"), Some("a finite float"), Some("NaN")));
    assert_eq!(e.op(), "LeakyRelu");

    let e = Rrelu::new(0.1, 0.3, 2, 0).unwrap_err();
    assert_eq!(fields(&e), (&attribute("training"), Some("0 or 1"), Some("2")));
    let e = Rrelu::new(0.1, 0.3, 0, -5).unwrap_err();
    assert_eq!(fields(&e), (&attribute("seed"), Some(">= 0"), Some("-5")));
    let e = Rrelu::new(0.1, f32::INFINITY, 0, 0).unwrap_err();
    assert_eq!(fields(&e), (&attribute("upper"), Some("a finite float"), Some("inf")));
    let e = Rrelu::new(0.5, 0.25, 0, 0).unwrap_err();
    assert_eq!(fields(&e), (&attribute("lower"), Some("<= upper (0.25)"), Some("0.5")));
    let e = Rrelu::new(0.1, 1e6, 0, 0).unwrap().check_element_type::<half::f16>().unwrap_err();
    assert_eq!(fields(&e), (&attribute("upper"), Some("|value| <= 65504"), Some("1000000")));
}

#[test]
fn shape_errors_name_the_input_and_both_shapes() {
    let e = broadcast_slope(&[2, 3, 4], &[3]).unwrap_err();
    assert_eq!(fields(&e), (&input("slope"), Some("a shape unidirectionally broadcastable to [2, 3, 4]"), Some("[3]")));
    let e = channel_slope(&[2, 3, 4], &[4], 1).unwrap_err();
    assert_eq!(fields(&e), (&input("slope"), Some("[3] or [1]"), Some("[4]")));
    let e = channel_slope(&[2, 3], &[3], 2).unwrap_err();
    assert_eq!(fields(&e), (&attribute("axis"), Some("-2 to 1"), Some("2")));
    let e = element_count("PRelu", "X", &[2, -1]).unwrap_err();
    assert_eq!(fields(&e), (&input("X"), Some("dimensions >= 0"), Some("[2, -1]")));
}

#[test]
fn signature_errors_name_the_missing_input_or_output() {
    let prelu = OPS.iter().find(|s| s.name == "PRelu").unwrap();
    let e = prelu.signature(&["x".into(), String::new()], &["y".into()]).unwrap_err();
    assert_eq!(fields(&e), (&input("slope"), Some("present"), Some("an empty name")));
    let e = prelu.signature(&["x".into()], &["y".into()]).unwrap_err();
    assert_eq!(fields(&e), (&Subject::Node, Some("2 inputs (X, slope)"), Some("1 inputs")));
    let e = prelu.signature(&["x".into(), "s".into()], &[String::new()]).unwrap_err();
    assert_eq!(fields(&e), (&Subject::Output("Y".to_string()), Some("present"), Some("absent")));
}
