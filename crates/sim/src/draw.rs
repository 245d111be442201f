//! Deterministic randomness: every draw is a function of the run's seed and what it is for
//! (a device, an epoch, a slot, a pair), so one device's draws never depend on how many
//! numbers another device drew, and the same seed gives the same fleet and traffic.

use rand::SeedableRng;
use rand::rngs::StdRng;

/// SplitMix64's finaliser: a bijective mix of 64 bits.
fn finalise(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 64 random-looking bits determined by `parts`.
pub fn mix(parts: &[u64]) -> u64 {
    parts.iter().fold(0x9e37_79b9_7f4a_7c15, |acc, p| {
        finalise(acc ^ finalise(p.wrapping_add(0x9e37_79b9_7f4a_7c15)))
    })
}

/// A uniform number in [0, 1).
pub fn uniform(parts: &[u64]) -> f64 {
    (mix(parts) >> 11) as f64 / (1u64 << 53) as f64
}

/// A standard normal deviate (Box–Muller).
pub fn normal(parts: &[u64]) -> f64 {
    let h = mix(parts);
    let u1 = ((h >> 11) as f64 + 1.0) / ((1u64 << 53) as f64 + 1.0);
    let u2 = uniform(&[h, 1]);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A seeded generator for longer sequences (fleet generation, shuffles).
pub fn rng(parts: &[u64]) -> StdRng {
    StdRng::seed_from_u64(mix(parts))
}

/// 32 bytes for a key seed or a salt.
pub fn bytes32(parts: &[u64]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&mix(&[mix(parts), i as u64]).to_le_bytes());
    }
    out
}

/// Labels that keep the draws of different purposes apart.
pub mod tag {
    pub const FLEET: u64 = 1;
    pub const KEY: u64 = 2;
    pub const PLACE: u64 = 3;
    pub const UPTIME: u64 = 4;
    pub const SHADOW: u64 = 5;
    pub const FADING: u64 = 6;
    pub const SENSOR: u64 = 7;
    pub const BEACON: u64 = 8;
    pub const PICK: u64 = 9;
    pub const JOBS: u64 = 10;
    pub const USAGE: u64 = 11;
    pub const FILE: u64 = 12;
    pub const CHEAT: u64 = 13;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_functions_of_their_parts() {
        assert_eq!(mix(&[1, 2, 3]), mix(&[1, 2, 3]));
        assert_ne!(mix(&[1, 2, 3]), mix(&[1, 2, 4]));
        assert_ne!(mix(&[1, 2]), mix(&[2, 1]));
        let u: Vec<f64> = (0..10_000).map(|i| uniform(&[7, i])).collect();
        assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = u.iter().sum::<f64>() / u.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        let n: Vec<f64> = (0..10_000).map(|i| normal(&[8, i])).collect();
        let mean = n.iter().sum::<f64>() / n.len() as f64;
        let var = n.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n.len() as f64;
        assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.08, "{mean} {var}");
    }
}
