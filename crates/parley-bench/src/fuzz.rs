//! `parley-bench --fuzz N`: N mutated inputs spread over every fuzz target of
//! `parley_proto::fuzz`, in parallel on every core; prints inputs per second per
//! target and in total, and stops at the first panic with the input that caused it
//! (hex) and the seed that reproduces it.

use std::time::Instant;

use anyhow::{bail, Result};
use parley_proto::fuzz::{targets, Mutator};

/// Runs `total` inputs; errors on a panic.
pub fn run(total: u64) -> Result<()> {
    let targets = targets();
    let per_target = total.div_ceil(targets.len() as u64);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    println!(
        "fuzzing {} targets × {per_target} inputs on {threads} threads",
        targets.len()
    );
    let start = Instant::now();
    let mut done = 0u64;
    for target in &targets {
        let seeds = (target.seeds)();
        let t0 = Instant::now();
        let failures: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|thread| {
                    let seeds = &seeds;
                    s.spawn(move || {
                        let seed = 0x5EED + thread;
                        let mut m = Mutator::new(seed);
                        for i in 0..per_target / threads {
                            let input = m.input(seeds);
                            let run = target.run;
                            if std::panic::catch_unwind(|| run(&input)).is_err() {
                                return Some(format!(
                                    "{} panicked on input #{i} of mutator seed {seed:#x}: {}",
                                    target.name,
                                    hex::encode(&input)
                                ));
                            }
                        }
                        None
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().ok().flatten())
                .collect()
        });
        if let Some(f) = failures.first() {
            bail!("{f}");
        }
        let n = (per_target / threads) * threads;
        done += n;
        println!(
            "  {:<24} {n:>10} inputs  {:>10.0} inputs/s",
            target.name,
            n as f64 / t0.elapsed().as_secs_f64()
        );
    }
    println!(
        "total: {done} inputs in {:.1} s, {:.0} inputs/s, no panic",
        start.elapsed().as_secs_f64(),
        done as f64 / start.elapsed().as_secs_f64()
    );
    Ok(())
}
