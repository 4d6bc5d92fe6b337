//! Many threads, many sessions, many runs: every output equals the one computed alone, and
//! resident memory stays flat.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::runtimes::{ort_run, ort_run_values, ort_session, ort_values};
use common::{Entry, manifest};
use rectify_cli::array::Array;

const THREADS: usize = 8;
const RUNS_PER_THREAD: usize = 10_000;
/// A mix of ops and element types (inference only: training draws anew each run).
const MODELS: [&str; 6] = [
    "leaky_relu_float",
    "prelu_channel_double",
    "prelu_axis1_float16",
    "rrelu_bfloat16",
    "prelu_full_bfloat16",
    "rrelu_float",
];

/// A model, its inputs, and its outputs computed alone.
type Expected = (Entry, Vec<(String, Array)>, Vec<Array>);

/// Resident set size in KiB, from /proc.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS in /proc/self/status");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmRSS value")
}

#[test]
fn eight_threads_ten_thousand_runs_each_no_mismatch_flat_memory() {
    let entries: Vec<Entry> = MODELS
        .iter()
        .map(|name| manifest().into_iter().find(|e| e.name == *name).unwrap_or_else(|| panic!("no model {name}")))
        .collect();
    // Expected outputs, each computed alone in its own session.
    let expected: Vec<Expected> = entries
        .into_iter()
        .map(|e| {
            let inputs = e.inputs();
            let outputs = ort_run(&mut ort_session(&e.model_path(), true, 1).unwrap(), &inputs).unwrap();
            (e, inputs, outputs)
        })
        .collect();
    let rss_start = rss_kib();
    // Taken once every thread has done 1,000 runs (sessions and arenas warm), and once every
    // thread has done all its runs (sessions still open).
    let (warm, done) = (std::sync::Barrier::new(THREADS), std::sync::Barrier::new(THREADS));
    let (rss_warm, rss_last) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let mismatches = AtomicUsize::new(0);
    let runs = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (expected, mismatches, runs) = (&expected, &mismatches, &runs);
            let (rss_warm, rss_last, warm, done) = (&rss_warm, &rss_last, &warm, &done);
            scope.spawn(move || {
                // Each thread has its own sessions, two intra-op threads each, in its own order.
                let mut sessions: Vec<_> = expected
                    .iter()
                    .map(|(e, inputs, want)| {
                        let session = ort_session(&e.model_path(), true, 2).unwrap();
                        (session, ort_values(inputs).unwrap(), want)
                    })
                    .collect();
                for i in 0..RUNS_PER_THREAD {
                    let (session, values, want) = &mut sessions[(i + t) % MODELS.len()];
                    let got = ort_run_values(session, values).unwrap();
                    if &got != *want {
                        mismatches.fetch_add(1, Ordering::Relaxed);
                    }
                    runs.fetch_add(1, Ordering::Relaxed);
                    if i == 1_000 && warm.wait().is_leader() {
                        rss_warm.store(rss_kib() as usize, Ordering::Relaxed);
                    }
                }
                if done.wait().is_leader() {
                    rss_last.store(rss_kib() as usize, Ordering::Relaxed);
                }
            });
        }
    });
    let rss_end = rss_kib();
    let (rss_warm, rss_last) = (rss_warm.load(Ordering::Relaxed) as u64, rss_last.load(Ordering::Relaxed) as u64);
    println!(
        "{} runs on {THREADS} threads x {} sessions: {} mismatches; RSS KiB: start {rss_start}, \
         after 1k runs {rss_warm}, after 10k {rss_last}, sessions dropped {rss_end}",
        runs.load(Ordering::Relaxed),
        MODELS.len(),
        mismatches.load(Ordering::Relaxed)
    );
    assert_eq!(runs.load(Ordering::Relaxed), THREADS * RUNS_PER_THREAD);
    assert_eq!(mismatches.load(Ordering::Relaxed), 0);
    // Flat while running: a leak of 64 bytes per run (72k runs between the two) shows.
    assert!(rss_last < rss_warm + 4 * 1024, "RSS grew from {rss_warm} KiB to {rss_last} KiB while running");
    assert!(rss_end < rss_start + 64 * 1024, "RSS grew from {rss_start} KiB to {rss_end} KiB");
}
