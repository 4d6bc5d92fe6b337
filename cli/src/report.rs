//! The report `rectify verify` prints: every output against every reference, the node
//! checks, and the verdict (one line per model with `--brief`).

use anyhow::{Context, Result};

use crate::array::{self, Array, Diff, Tolerance};
use crate::per_node::NodeCheck;

/// One reference's outcome.
pub enum Outcome {
    Ran(Vec<(String, Array)>),
    Unavailable(String),
}

pub struct Reference {
    pub name: &'static str,
    pub outcome: Outcome,
}

/// Which comparison decides.
#[derive(Clone, Copy, PartialEq)]
pub enum Decisive {
    Output(usize),
    Nodes,
    Nothing,
}

pub struct Report<'a> {
    pub model: String,
    pub references: &'a [Reference],
    pub decisive: Decisive,
    pub brief: bool,
    pub half: bool,
}

impl Report<'_> {
    pub fn print(
        &self,
        outputs: &[(String, Array)],
        nodes: Option<&[NodeCheck]>,
        tolerance: &dyn Fn(usize) -> Option<Tolerance>,
    ) -> Result<bool> {
        let (brief, references) = (self.brief, self.references);
        let (mut ok, mut worst_ulp) = (true, 0);
        for reference in references {
            if let Outcome::Unavailable(reason) = &reference.outcome {
                say!(brief, "{:<28} unavailable: {reason}", reference.name);
            }
        }
        for (k, (name, out)) in outputs.iter().enumerate() {
            say!(brief, "\noutput {name}: {} {:?}", out.ty.name(), out.shape);
            say!(brief, "  {:<28} {:>12} {:>9}  matches", "reference", "max |diff|", "max ULP");
            for (r, reference) in references.iter().enumerate() {
                let Outcome::Ran(theirs) = &reference.outcome else { continue };
                let decides = self.decisive == Decisive::Output(r);
                let role = if decides { "  (decisive)" } else { "" };
                let Some((_, theirs)) = theirs.get(k) else {
                    say!(brief, "  {:<28} missing output{role}", reference.name);
                    ok &= !decides;
                    continue;
                };
                let tol = tolerance(r);
                let diff = array::compare(out, theirs, tol)
                    .with_context(|| format!("output {name} against {}", reference.name))?;
                let worst = diff.worst.filter(|_| !diff.matches()).map_or(String::new(), |i| {
                    format!("; worst at {:?}: {} vs {}", array::unravel(i, &out.shape), out.value(i), theirs.value(i))
                });
                say!(
                    brief,
                    "  {:<28} {:>12} {:>9}  {}{role}{worst}",
                    reference.name,
                    format!("{:.3e}", diff.max_abs),
                    diff.max_ulp,
                    verdict(&diff, tol)
                );
                if decides {
                    ok &= diff.matches();
                    worst_ulp = worst_ulp.max(diff.max_ulp);
                }
            }
        }
        if let Some(nodes) = nodes {
            let decides = self.decisive == Decisive::Nodes;
            say!(
                brief,
                "\nrectify nodes, each against the built-in op on its own inputs{}:",
                if decides { " (decisive)" } else { "" }
            );
            for check in nodes {
                match &check.outcome {
                    Ok(diffs) => {
                        for (output, d) in diffs {
                            say!(
                                brief,
                                "  {:<40} {:>12} {:>9}  {}",
                                format!("{} -> {output}", check.node),
                                format!("{:.3e}", d.max_abs),
                                d.max_ulp,
                                verdict(d, None)
                            );
                            worst_ulp = worst_ulp.max(if decides { d.max_ulp } else { 0 });
                        }
                    }
                    Err(reason) => say!(brief, "  {:<40} unavailable: {}", check.node, first_line(reason)),
                }
                ok &= !decides || check.matches();
            }
            if self.half {
                say!(brief, "(a float16 / bfloat16 network's twin is for information: ONNX Runtime runs its built-in");
                say!(brief, "stretches in float32 behind Casts, where the rectify model rounds each node's output)");
            }
        }
        say!(brief, "\n(tract rows other than the decisive one are for information: tract's own kernels, such as");
        say!(brief, "convolutions and float16 LeakyRelu, may round differently from ONNX Runtime's)");
        let against = match self.decisive {
            Decisive::Output(r) => references[r].name,
            Decisive::Nodes => "the built-in op, node by node",
            Decisive::Nothing => "",
        };
        let how = match self.decisive {
            Decisive::Output(r) if tolerance(r).is_some() => "within the tolerance of",
            _ => "bit-exact against",
        };
        if brief {
            let model = &self.model;
            let verdict = match self.decisive {
                Decisive::Nothing => format!("UNVERIFIED  {model}  (no reference can run it)"),
                _ if ok => format!("PASS        {model}  ({how} {against})"),
                _ => format!("FAIL        {model}  ({worst_ulp} ULP from {against})"),
            };
            println!("{verdict}");
            return Ok(ok);
        }
        match self.decisive {
            Decisive::Nothing => println!("UNVERIFIED: no reference could decide for this model (see above)"),
            _ if ok => println!("PASS: every output matches {against}"),
            _ => println!("FAIL: outputs differ from {against}"),
        }
        Ok(ok)
    }
}

fn verdict(d: &Diff, tolerance: Option<Tolerance>) -> String {
    match (d.bit_exact, d.nan_payloads_only, tolerance) {
        (true, _, _) => "bit-exact".into(),
        (false, true, _) => "yes (NaN payloads differ)".into(),
        (false, false, Some(t)) if d.matches() => format!("within rtol {} atol {}", t.rtol, t.atol),
        (false, false, Some(_)) => format!("no ({} elements outside)", d.failing),
        (false, false, None) => format!("no ({} elements differ)", d.failing),
    }
}

pub fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    if line.len() > 160 { format!("{}...", &line[..line.floor_char_boundary(157)]) } else { line.to_string() }
}
