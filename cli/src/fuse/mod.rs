//! Fusion of the decomposed activations exporters write into one rectify node:
//!
//! - `Where(Less(X, 0), Mul(X, s), X)`: ONNX's own function bodies of LeakyRelu and PRelu;
//! - `Where(Greater(X, 0), X, Mul(X, s))` and `Max(X, Mul(X, s))` with 0 <= s <= 1;
//! - `Add(Relu(X), Mul(-s, Relu(Neg(X))))` (Keras 3's PReLU through tf2onnx, `-s` a folded
//!   constant or `Neg(s)`) and `Sub(Relu(X), Mul(s, Relu(Neg(X))))` (Keras 2's);
//! - with `inexact`, `Add(Mul(X, (1+a)/2), Mul(Abs(X), (1-a)/2))`, the branch-free formula,
//!   which the exact LeakyRelu(a) replaces.
//!
//! A pattern is fused only when its intermediate values are used nowhere else, X is of a
//! type rectify computes and the slope is a constant that broadcasts onto X without growing
//! it. A scalar slope gives LeakyRelu, any other PRelu with the slope value as it is.
//! Where the fused op's rule differs from the decomposed form's (zero signs, NaN through
//! Relu or Max), docs/conversion.md lists it.

mod constant;

use onnx_protobuf::{GraphProto, NodeProto};

use self::constant::Constant;
use crate::edit::{Change, Shapes, attr, float_attr, is_rectify_type, reads, unique_name};
use crate::model::{Dim, RECTIFY, is_standard, node_label, value_type};

/// A match: the nodes it replaces (the last one is the result), X and the slope.
struct Found {
    nodes: Vec<usize>,
    x: String,
    slope: Slope,
    form: &'static str,
    /// Set for the inexact formula: what it approximated.
    inexact: bool,
}

/// Where the slope comes from: a value of the graph, or constant values computed from one
/// (negated, transposed; written as a new initializer named after `hint`).
enum Slope {
    Value(String, Constant),
    Folded { hint: String, values: Constant },
    Alpha(f64),
}

/// Fuses every pattern found in the top-level graph; returns one change per fusion.
pub fn fuse(graph: &mut GraphProto, inexact: bool, shapes: Shapes<'_>) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut i = 0;
    while i < graph.node.len() {
        let found = find(graph, i, inexact);
        match found.and_then(|f| accept(graph, f, shapes)) {
            Some(found) => {
                changes.push(rewrite(graph, found));
                i = 0; // indices moved: look again from the start
            }
            None => i += 1,
        }
    }
    changes
}

fn find(graph: &GraphProto, root: usize, inexact: bool) -> Option<Found> {
    let node = &graph.node[root];
    if !is_standard(&node.domain) || node.output.len() != 1 || arity(&node.op_type) != Some(node.input.len()) {
        return None;
    }
    let g = Graph(graph);
    match node.op_type.as_str() {
        "Where" => {
            let (cond, a, b) = (&node.input[0], &node.input[1], &node.input[2]);
            let (c, compare) = g.node(cond, "Less").or_else(|| g.node(cond, "Greater"))?;
            if !g.is_zero(&compare.input[1]) {
                return None;
            }
            let x = &compare.input[0];
            let mul = if compare.op_type == "Less" { a } else { b };
            let other = if mul == a { b } else { a };
            if other != x {
                return None;
            }
            let (m, slope) = g.mul_by_constant(mul, x)?;
            let form = if compare.op_type == "Less" {
                "Where(Less(X, 0), Mul(X, s), X)"
            } else {
                "Where(Greater(X, 0), X, Mul(X, s))"
            };
            Some(Found { nodes: vec![c, m, root], x: x.clone(), slope, form, inexact: false })
        }
        "Max" => {
            let (x, mul) = [(&node.input[0], &node.input[1]), (&node.input[1], &node.input[0])]
                .into_iter()
                .find(|(x, mul)| g.mul_by_constant(mul, x).is_some())?;
            let (m, slope) = g.mul_by_constant(mul, x)?;
            let Slope::Value(_, c) = &slope else { return None };
            if !c.values.iter().all(|v| (0.0..=1.0).contains(v)) {
                return None;
            }
            Some(Found {
                nodes: vec![m, root],
                x: x.clone(),
                slope,
                form: "Max(X, Mul(X, s)), 0 <= s <= 1",
                inexact: false,
            })
        }
        "Add" | "Sub" => g.relu_pair(root).or_else(|| if inexact { g.branch_free(root) } else { None }),
        _ => None,
    }
}

/// The checks every match passes: private intermediates, a type rectify computes and a
/// slope that broadcasts onto X without changing its shape.
fn accept(graph: &GraphProto, found: Found, shapes: Shapes<'_>) -> Option<Found> {
    let g = Graph(graph);
    for &n in &found.nodes[..found.nodes.len() - 1] {
        for out in &graph.node[n].output {
            let inside: usize =
                found.nodes.iter().map(|&k| graph.node[k].input.iter().filter(|i| *i == out).count()).sum();
            if g.uses(out) != inside || graph.output.iter().any(|o| &o.name == out) {
                return None;
            }
        }
    }
    let x = value_type(graph, &found.x).or_else(|| shapes(&found.x))?;
    if !is_rectify_type(x.elem_type) {
        return None;
    }
    // Unidirectional broadcasting: each of the slope's trailing dimensions is 1 or X's.
    let fits = |c: &Constant| match &x.dims {
        None => c.dims.is_empty(),
        Some(dims) => {
            c.dims.len() <= dims.len()
                && c.dims.iter().rev().zip(dims.iter().rev()).all(|(&s, d)| s == 1 || *d == Dim::Fixed(s as usize))
        }
    };
    match &found.slope {
        Slope::Value(_, c) | Slope::Folded { values: c, .. } if !fits(c) => None,
        _ => Some(found),
    }
}

fn rewrite(graph: &mut GraphProto, found: Found) -> Change {
    let labels: Vec<String> = found.nodes.iter().map(|&n| node_label(&graph.node[n])).collect();
    let root = *found.nodes.last().expect("a match has a result node");
    // rectify's LeakyRelu and PRelu share the rule `x < 0 ? s * x : x`; a one-value slope
    // that a float32 alpha holds exactly becomes LeakyRelu, with the float32 it was cast
    // from if any (ONNX's LeakyRelu body casts alpha to X's type; ONNX Runtime's kernel, and
    // its optimizer on the body, multiply by the float32 alpha).
    let (op, slope_input, alpha, slope_text) = match &found.slope {
        Slope::Alpha(a) => ("LeakyRelu", None, Some(*a as f32), String::new()),
        Slope::Value(_, c) | Slope::Folded { values: c, .. } => {
            let one = c.values.first().copied().filter(|&v| c.values.len() == 1 && f64::from(v as f32) == v);
            match one.map(|v| c.uncast.unwrap_or(v as f32)) {
                Some(v) => ("LeakyRelu", None, Some(v), String::new()),
                None => ("PRelu", Some(slope_value(graph, &found.slope)), None, format!(", slope {:?}", c.dims)),
            }
        }
    };
    let y = graph.node[root].output[0].clone();
    let name = graph.node[root].name.clone();
    let mut node = NodeProto::new();
    node.op_type = op.into();
    node.domain = RECTIFY.into();
    node.name = if name.is_empty() { unique_name(graph, &format!("{y}_{}", op.to_lowercase())) } else { name };
    node.input = std::iter::once(found.x.clone()).chain(slope_input).collect();
    node.output = vec![y];
    let mut detail = format!("fused {} ({}) -> rectify::{op}", found.form, labels.join(", "));
    if let Some(a) = alpha {
        node.attribute.push(float_attr("alpha", a));
        detail.push_str(&format!("(alpha={a})"));
    }
    detail.push_str(&slope_text);
    if found.inexact {
        detail.push_str(": the exact LeakyRelu the formula approximates (the formula is up to 79 ULP off)");
    }
    let label = node_label(&node);
    let mut read: Vec<String> = found.nodes.iter().flat_map(|&n| graph.node[n].input.clone()).collect();
    graph.node[root] = node;
    let mut gone = found.nodes[..found.nodes.len() - 1].to_vec();
    gone.sort_unstable();
    for n in gone.into_iter().rev() {
        graph.node.remove(n);
    }
    read.extend(remove_dead_constants(graph));
    // Initializers only the replaced nodes read (ONNX Runtime warns about each unused one).
    let unused = |g: &GraphProto, name: &str| {
        Graph(g).uses(name) == 0 && !g.input.iter().chain(&g.output).any(|v| v.name == name)
    };
    let dead: Vec<String> = read.into_iter().filter(|name| unused(graph, name)).collect();
    graph.initializer.retain(|t| !dead.contains(&t.name));
    Change { node: label, rewritten: true, detail }
}

/// The slope as a graph value: the initializer the pattern used, else a new initializer
/// holding the constant's values (folded through Constant, Cast, CastLike and Neg).
fn slope_value(graph: &mut GraphProto, slope: &Slope) -> String {
    let (hint, c) = match slope {
        Slope::Value(name, _) if graph.initializer.iter().any(|t| &t.name == name) => return name.clone(),
        Slope::Value(name, c) => (format!("{name}_folded"), c),
        Slope::Folded { hint, values } => (hint.clone(), values),
        Slope::Alpha(_) => unreachable!("an alpha is an attribute"),
    };
    let name = unique_name(graph, &hint);
    graph.initializer.push(c.to_tensor(name.clone()));
    name
}

/// Constant producers (Constant, Cast, CastLike, Neg of constants) left without users;
/// returns what the removed nodes read.
fn remove_dead_constants(graph: &mut GraphProto) -> Vec<String> {
    let mut read = Vec::new();
    loop {
        let g = Graph(graph);
        let dead = graph.node.iter().position(|n| {
            is_standard(&n.domain)
                && (n.op_type == "Constant"
                    || matches!(n.op_type.as_str(), "Cast" | "CastLike" | "Neg")
                        && n.input.first().is_some_and(|i| g.constant(i).is_some()))
                && n.output.iter().all(|o| g.uses(o) == 0 && !graph.output.iter().any(|v| &v.name == o))
        });
        let Some(dead) = dead else { return read };
        read.extend(graph.node.remove(dead).input);
    }
}

/// Read-only questions about a graph.
#[derive(Clone, Copy)]
struct Graph<'a>(&'a GraphProto);

impl<'a> Graph<'a> {
    fn producer(self, value: &str) -> Option<usize> {
        self.0.node.iter().position(|n| n.output.iter().any(|o| o == value))
    }

    /// The node that produces `value`, when it is a standard `op` with the inputs that op
    /// takes (a malformed node matches nothing).
    fn node(self, value: &str, op: &str) -> Option<(usize, &'a NodeProto)> {
        let i = self.producer(value)?;
        let n = &self.0.node[i];
        (is_standard(&n.domain) && n.op_type == op && arity(op) == Some(n.input.len())).then_some((i, n))
    }

    fn uses(self, value: &str) -> usize {
        reads(self.0, value)
    }

    /// A float constant: an initializer that is not also a graph input (those can be fed),
    /// a Constant node, or Cast / CastLike / Neg of one.
    fn constant(self, value: &str) -> Option<Constant> {
        if let Some(t) = self.0.initializer.iter().find(|t| t.name == value) {
            if self.0.input.iter().any(|i| i.name == value) {
                return None;
            }
            return Constant::from_tensor(t);
        }
        let i = self.producer(value)?;
        let n = &self.0.node[i];
        if !is_standard(&n.domain) || arity(&n.op_type) != Some(n.input.len()) {
            return None;
        }
        match n.op_type.as_str() {
            "Constant" => {
                if let Some(t) = attr(n, "value").and_then(|a| a.t.as_ref()) {
                    return Constant::from_tensor(t);
                }
                let f = attr(n, "value_float")?;
                Some(Constant::scalar_f32(f.f))
            }
            "Neg" => self.constant(&n.input[0]).map(Constant::negated),
            "Cast" => {
                let to = attr(n, "to")?.i as i32;
                self.constant(&n.input[0]).and_then(|c| c.cast(to))
            }
            "CastLike" => {
                let to = value_type(self.0, n.input.get(1)?).map(|t| t.elem_type)?;
                self.constant(&n.input[0]).and_then(|c| c.cast(to))
            }
            _ => None,
        }
    }

    /// A constant 0 of rank 0 or 1 (so it cannot grow X's shape past rank 1).
    fn is_zero(self, value: &str) -> bool {
        self.constant(value).is_some_and(|c| c.values == [0.0] && c.dims.len() <= 1)
    }

    /// `mul` = Mul(x, s) or Mul(s, x) with s constant: the Mul's index and the slope.
    fn mul_by_constant(self, mul: &str, x: &str) -> Option<(usize, Slope)> {
        let (m, node) = self.node(mul, "Mul")?;
        let s = match (node.input[0] == x, node.input[1] == x) {
            (true, false) => &node.input[1],
            (false, true) => &node.input[0],
            _ => return None,
        };
        Some((m, Slope::Value(s.clone(), self.constant(s)?)))
    }

    /// `Add(Relu(X), Mul(m, Relu(Neg(X))))` (slope -m) or `Sub(Relu(X), Mul(s, Relu(Neg(X))))`,
    /// the Mul also in a transposed layout (`Transpose_q(Mul(Transpose_p(...), m))` with q
    /// undoing p: tf2onnx's NHWC slopes), whose slope is transposed back.
    fn relu_pair(self, root: usize) -> Option<Found> {
        let node = &self.0.node[root];
        let add = node.op_type == "Add";
        let pairs: &[(usize, usize)] = if add { &[(0, 1), (1, 0)] } else { &[(0, 1)] };
        pairs.iter().find_map(|&(p, n)| {
            let (relu, relu_node) = self.node(&node.input[p], "Relu")?;
            let x = &relu_node.input[0];
            let mut nodes = vec![relu];
            let back = self.node(&node.input[n], "Transpose");
            let product = back.map_or(&node.input[n], |(_, t)| &t.input[0]);
            let (mul, mul_node) = self.node(product, "Mul")?;
            let ((relu_neg, neg, forward), m) = [(0, 1), (1, 0)].into_iter().find_map(|(k, m)| {
                let forward = self.node(&mul_node.input[k], "Transpose");
                let value = forward.map_or(&mul_node.input[k], |(_, t)| &t.input[0]);
                let (r, r_node) = self.node(value, "Relu")?;
                let (neg, neg_node) = self.node(&r_node.input[0], "Neg")?;
                (neg_node.input[0] == *x).then_some(((r, neg, forward), m))
            })?;
            nodes.extend([neg, relu_neg]);
            let s = &mul_node.input[m];
            // The Mul's factor: s itself (Sub), or -s: a Neg node to look through, or a
            // folded constant to negate (Add).
            let (name, mut c, negate) = if !add {
                (s.clone(), self.constant(s)?, false)
            } else if let Some((_, neg)) = self.node(s, "Neg") {
                (neg.input[0].clone(), self.constant(&neg.input[0])?, false)
            } else {
                (s.clone(), self.constant(s)?, true)
            };
            let mut changed = negate;
            if negate {
                c = c.negated();
            }
            match (forward, back) {
                (None, None) => {}
                (Some((f, fwd)), Some((b, bwd))) => {
                    let (p, q) = (perm(fwd)?, perm(bwd)?);
                    if p.len() != q.len() || (0..p.len()).any(|i| p[q[i]] != i) {
                        return None;
                    }
                    c = c.transposed(&q)?;
                    changed = true;
                    nodes.extend([f, b]);
                }
                _ => return None,
            }
            nodes.extend([mul, root]);
            let slope = if changed {
                Slope::Folded { hint: format!("{name}_slope"), values: c }
            } else {
                Slope::Value(name, c)
            };
            let form = match (add, back.is_some()) {
                (true, false) => "Add(Relu(X), Mul(-s, Relu(Neg(X))))",
                (true, true) => "Add(Relu(X), Transpose(Mul(-s, Transpose(Relu(Neg(X))))))",
                (false, _) => "Sub(Relu(X), Mul(s, Relu(Neg(X))))",
            };
            Some(Found { nodes, x: x.clone(), slope, form, inexact: false })
        })
    }

    /// `Add(Mul(X, c1), Mul(Abs(X), c2))` with scalar c1 + c2 = 1: LeakyRelu(c1 - c2).
    fn branch_free(self, root: usize) -> Option<Found> {
        let node = &self.0.node[root];
        if node.op_type != "Add" {
            return None;
        }
        [(0, 1), (1, 0)].into_iter().find_map(|(p, q)| {
            let (m1, n1) = self.node(&node.input[p], "Mul")?;
            let (m2, n2) = self.node(&node.input[q], "Mul")?;
            let (abs, x, c2) = [(0, 1), (1, 0)].into_iter().find_map(|(k, c)| {
                let (a, abs) = self.node(&n2.input[k], "Abs")?;
                Some((a, abs.input[0].clone(), self.scalar(&n2.input[c])?))
            })?;
            let c1 = match (n1.input[0] == x, n1.input[1] == x) {
                (true, false) => self.scalar(&n1.input[1])?,
                (false, true) => self.scalar(&n1.input[0])?,
                _ => return None,
            };
            if ((c1 + c2) - 1.0).abs() > 1e-6 {
                return None;
            }
            let form = "Add(Mul(X, (1+a)/2), Mul(Abs(X), (1-a)/2))";
            Some(Found { nodes: vec![m1, abs, m2, root], x, slope: Slope::Alpha(c1 - c2), form, inexact: true })
        })
    }

    fn scalar(self, value: &str) -> Option<f64> {
        self.constant(value).filter(|c| c.values.len() == 1 && c.dims.len() <= 1).map(|c| c.values[0])
    }
}

/// How many inputs each op the patterns use takes.
fn arity(op: &str) -> Option<usize> {
    Some(match op {
        "Constant" => 0,
        "Relu" | "Neg" | "Abs" | "Transpose" | "Cast" => 1,
        "Less" | "Greater" | "Mul" | "Max" | "Add" | "Sub" | "CastLike" => 2,
        "Where" => 3,
        _ => return None,
    })
}

/// A Transpose node's permutation.
fn perm(node: &NodeProto) -> Option<Vec<usize>> {
    attr(node, "perm")?.ints.iter().map(|&i| usize::try_from(i).ok()).collect()
}
