//! Normalised cross-correlation for audio tests and benchmarks.

use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

/// Smallest overlap, as a fraction of the shorter signal, for a lag to count: tiny
/// overlaps at extreme lags give meaningless, noisy NCC values.
const MIN_OVERLAP_FRACTION: f64 = 0.5;

/// NCC of `a[i]` against `b[i + lag]` over their overlap (−1.0..=1.0; 0.0 when
/// either side is silent or there is no overlap).
fn ncc_at(a: &[f32], b: &[f32], lag: isize) -> f64 {
    let (a, b) = if lag >= 0 {
        (a, b.get(lag as usize..).unwrap_or(&[]))
    } else {
        (a.get(lag.unsigned_abs()..).unwrap_or(&[]), b)
    };
    let n = a.len().min(b.len());
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a[..n].iter().zip(&b[..n]) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa <= 0.0 || bb <= 0.0 {
        0.0
    } else {
        ab / (aa * bb).sqrt()
    }
}

/// Prefix sums of squares: `p[k]` = Σ x[i]² for i < k.
fn energy_prefix(x: &[f32]) -> Vec<f64> {
    let mut p = Vec::with_capacity(x.len() + 1);
    let mut acc = 0f64;
    p.push(0.0);
    for &v in x {
        acc += f64::from(v) * f64::from(v);
        p.push(acc);
    }
    p
}

/// The best normalised cross-correlation between `a` and `b` over lags
/// `−max_lag..=max_lag` samples, and that lag: `b[i + lag]` lines up with `a[i]`
/// (so a positive lag means `b` is late).
///
/// Exact for every lag: the raw cross-correlation comes from one FFT of size
/// ≥ `a.len() + b.len()` (O(n log n)), each lag is normalised by the energies of the
/// overlapping parts (prefix sums), and the returned value is recomputed directly on
/// the raw signals at the winning lag. Lags whose overlap is under half the shorter
/// signal are not considered.
pub fn normalized_xcorr_best(a: &[f32], b: &[f32], max_lag: usize) -> (f64, isize) {
    if a.is_empty() || b.is_empty() {
        return (0.0, 0);
    }
    let size = (a.len() + b.len()).next_power_of_two();
    let mut fa: Vec<Complex<f64>> = a.iter().map(|&x| Complex::new(f64::from(x), 0.0)).collect();
    let mut fb: Vec<Complex<f64>> = b.iter().map(|&x| Complex::new(f64::from(x), 0.0)).collect();
    fa.resize(size, Complex::new(0.0, 0.0));
    fb.resize(size, Complex::new(0.0, 0.0));
    let mut planner = FftPlanner::<f64>::new();
    planner.plan_fft_forward(size).process(&mut fa);
    planner.plan_fft_forward(size).process(&mut fb);
    // r[lag] = Σ a[i]·b[i+lag] = IFFT(conj(A)·B)[lag mod size].
    let mut r: Vec<Complex<f64>> = fa.iter().zip(&fb).map(|(x, y)| x.conj() * y).collect();
    planner.plan_fft_inverse(size).process(&mut r);
    let (pa, pb) = (energy_prefix(a), energy_prefix(b));
    let min_overlap = (a.len().min(b.len()) as f64 * MIN_OVERLAP_FRACTION) as usize;
    let max = max_lag as isize;
    let mut best = (f64::NEG_INFINITY, 0isize);
    for lag in -max..=max {
        // Overlap: a[i] with b[i+lag] for i in [lo, hi).
        let lo = (-lag).max(0) as usize;
        let hi = (a.len() as isize).min(b.len() as isize - lag);
        if hi <= lo as isize || (hi as usize - lo) < min_overlap.max(1) {
            continue;
        }
        let hi = hi as usize;
        let ea = pa[hi] - pa[lo];
        let eb = pb[(hi as isize + lag) as usize] - pb[(lo as isize + lag) as usize];
        if ea <= 0.0 || eb <= 0.0 {
            continue;
        }
        let idx = lag.rem_euclid(size as isize) as usize;
        let ncc = r[idx].re / size as f64 / (ea * eb).sqrt();
        if ncc > best.0 {
            best = (ncc, lag);
        }
    }
    if best.0 == f64::NEG_INFINITY {
        return (0.0, 0);
    }
    (ncc_at(a, b, best.1), best.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise (xorshift), −0.5..0.5.
    fn noise(n: usize, mut state: u32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as f32 / u32::MAX as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn finds_small_lags_directly() {
        let a = noise(4000, 1);
        let mut b = vec![0.0; 37];
        b.extend_from_slice(&a);
        let (ncc, lag) = normalized_xcorr_best(&a, &b, 100);
        assert_eq!(lag, 37);
        assert!(ncc > 0.999, "{ncc}");
        let (ncc, lag) = normalized_xcorr_best(&b, &a, 100);
        assert_eq!(lag, -37);
        assert!(ncc > 0.999);
        assert_eq!(normalized_xcorr_best(&[], &a, 10), (0.0, 0));
    }

    #[test]
    fn finds_large_lags() {
        // Low-passed noise, like speech.
        let raw = noise(200_000, 7);
        let a: Vec<f32> = raw.windows(8).map(|w| w.iter().sum::<f32>()).collect();
        let mut b = vec![0.0; 1_234];
        b.extend(a.iter().map(|x| x * 0.5));
        let (ncc, lag) = normalized_xcorr_best(&a, &b, 3_000);
        assert_eq!(lag, 1_234);
        assert!(ncc > 0.999, "{ncc}");
        let other = noise(200_000, 99);
        let (ncc, _) = normalized_xcorr_best(&a, &other, 3_000);
        assert!(ncc < 0.1, "{ncc}");
    }
}
