//! Normalised cross-correlation for audio tests and benchmarks.

/// Work budget (multiply-adds) for a direct search before decimating.
const DIRECT_BUDGET: usize = 20_000_000;
/// Half-width of the raw-signal refinement around a coarse lag, samples.
const REFINE: usize = 50;

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

fn best_in(a: &[f32], b: &[f32], lags: impl Iterator<Item = isize>) -> (f64, isize) {
    lags.map(|lag| (ncc_at(a, b, lag), lag))
        .fold((f64::NEG_INFINITY, 0), |best, cur| {
            if cur.0 > best.0 {
                cur
            } else {
                best
            }
        })
}

fn decimate(x: &[f32], factor: usize) -> Vec<f32> {
    x.chunks(factor)
        .map(|c| c.iter().sum::<f32>() / c.len() as f32)
        .collect()
}

/// The best normalised cross-correlation between `a` and `b` over lags
/// `−max_lag..=max_lag` samples, and that lag: `b[i + lag]` lines up with `a[i]`
/// (so a positive lag means `b` is late).
///
/// The value is always the NCC of the raw signals over their overlap at the
/// returned lag. For long signals and wide lag ranges the lag is first found on a
/// block-averaged (decimated) copy, then refined sample by sample within ±50
/// samples (± the decimation factor) on the raw signals.
pub fn normalized_xcorr_best(a: &[f32], b: &[f32], max_lag: usize) -> (f64, isize) {
    let n = a.len().min(b.len());
    let max = max_lag as isize;
    let cost = n.saturating_mul(2 * max_lag + 1);
    if n == 0 {
        return (0.0, 0);
    }
    if cost <= DIRECT_BUDGET || max_lag <= REFINE {
        return best_in(a, b, -max..=max);
    }
    let factor = ((cost as f64 / DIRECT_BUDGET as f64).sqrt().ceil() as usize).max(2);
    let (da, db) = (decimate(a, factor), decimate(b, factor));
    let coarse_max = (max_lag / factor) as isize + 1;
    let (_, coarse) = best_in(&da, &db, -coarse_max..=coarse_max);
    let centre = coarse * factor as isize;
    let half = (REFINE + factor) as isize;
    let lo = (centre - half).max(-max);
    let hi = (centre + half).min(max);
    best_in(a, b, lo..=hi)
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
    fn finds_large_lags_via_decimation() {
        // Low-passed noise, like speech, survives decimation.
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
