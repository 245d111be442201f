//! The simulated world: cities that devices cluster around, H3 cells, a radio path-loss
//! model with shadowing, and the ground truth sensors measure.
//!
//! Floating point is fine here: this is the world the fleet lives in, not the chain. Every
//! check the chain makes is integer code in `cairn-app`, which the simulator calls to know
//! what an honest device may report.

use anyhow::Context;
use cairn_app::devices::fspl::{fspl_cdb, max_rssi_cdbm};
use cairn_app::devices::reports::cells_apart;
use cairn_types::Params;
use h3o::{CellIndex, LatLng, Resolution};

/// A city devices cluster around: its centre, how far the cluster spreads (one standard
/// deviation, km), and its mean temperature.
#[derive(Debug, Clone, Copy)]
pub struct City {
    pub name: &'static str,
    pub lat: f64,
    pub lng: f64,
    pub spread_km: f64,
    pub temp_c: f64,
}

/// The cities of the simulated region, largest first. Each is more than the longest witness
/// distance (≈ 100 km) from every other, so cities only hear themselves.
pub const CITIES: [City; 8] = [
    City { name: "Paris", lat: 48.8566, lng: 2.3522, spread_km: 5.0, temp_c: 12.5 },
    City { name: "Berlin", lat: 52.5200, lng: 13.4050, spread_km: 5.0, temp_c: 10.0 },
    City { name: "Madrid", lat: 40.4168, lng: -3.7038, spread_km: 4.5, temp_c: 15.5 },
    City { name: "Milan", lat: 45.4642, lng: 9.1900, spread_km: 4.0, temp_c: 13.5 },
    City { name: "Amsterdam", lat: 52.3676, lng: 4.9041, spread_km: 3.5, temp_c: 10.5 },
    City { name: "Warsaw", lat: 52.2297, lng: 21.0122, spread_km: 4.0, temp_c: 8.5 },
    City { name: "Vienna", lat: 48.2082, lng: 16.3738, spread_km: 3.5, temp_c: 11.0 },
    City { name: "Lisbon", lat: 38.7223, lng: -9.1393, spread_km: 3.0, temp_c: 17.5 },
];

/// Devices per city before another city is used (small fleets stay in one city, so their
/// hotspots hear each other).
pub const DEVICES_PER_CITY: usize = 400;

/// How many cities a fleet of `devices` spreads over.
pub fn city_count(devices: usize) -> usize {
    devices.div_ceil(DEVICES_PER_CITY).clamp(1, CITIES.len())
}

/// Kilometres per degree of latitude.
const KM_PER_DEG: f64 = 111.32;

/// The point `east_km` east and `north_km` north of (lat, lng).
pub fn offset(lat: f64, lng: f64, east_km: f64, north_km: f64) -> (f64, f64) {
    let dlat = north_km / KM_PER_DEG;
    let dlng = east_km / (KM_PER_DEG * lat.to_radians().cos().max(0.01));
    (lat + dlat, lng + dlng)
}

/// The resolution-12 cell holding (lat, lng), as the chain stores it.
pub fn cell_at(lat: f64, lng: f64) -> anyhow::Result<u64> {
    let ll = LatLng::new(lat, lng).with_context(|| format!("bad coordinates {lat}, {lng}"))?;
    Ok(u64::from(ll.to_cell(Resolution::Twelve)))
}

/// The centre of a cell.
pub fn centre(cell: u64) -> anyhow::Result<LatLng> {
    let c = CellIndex::try_from(cell).with_context(|| format!("{cell:#x} is not an H3 cell"))?;
    Ok(LatLng::from(c))
}

/// Radio parameters of every hotspot: EU868 at 14 dBm, log-distance path loss with
/// shadowing, and a receiver sensitivity.
#[derive(Debug, Clone, Copy)]
pub struct Radio {
    pub tx_dbm: i16,
    pub freq_khz: u32,
    /// Path-loss exponent (2 is free space; suburban and urban radio is 2.7–3.5).
    pub exponent: f64,
    /// Standard deviation of the log-normal shadowing, dB.
    pub shadow_db: f64,
    pub sensitivity_dbm: f64,
}

pub const RADIO: Radio =
    Radio { tx_dbm: 14, freq_khz: 868_100, exponent: 2.7, shadow_db: 6.0, sensitivity_dbm: -125.0 };

impl Radio {
    /// What a receiver `distance_m` away hears, in centi-dBm, with `shadow` standard normal
    /// deviates of shadowing; never above free space (physics has no gain to give).
    pub fn rssi_cdbm(&self, distance_m: f64, shadow: f64) -> i32 {
        let d = distance_m.max(1.0);
        let free = i64::from(self.tx_dbm) * 100 - fspl_cdb(d as u64, u64::from(self.freq_khz));
        // Loss beyond free space: 10·(n − 2)·log10(d / 1 m), plus shadowing.
        let extra = 10.0 * (self.exponent - 2.0) * d.log10() + self.shadow_db * shadow;
        let modelled = free as f64 - extra * 100.0;
        modelled.min(free as f64).round() as i32
    }

    /// Whether a signal is strong enough to be decoded.
    pub fn heard(&self, rssi_cdbm: i32) -> bool {
        f64::from(rssi_cdbm) >= self.sensitivity_dbm * 100.0
    }

    /// The distance beyond which even a lucky path (shadowing 4 standard deviations in the
    /// receiver's favour) is not heard, metres: listeners farther away are not considered.
    pub fn range_m(&self) -> f64 {
        let (mut lo, mut hi) = (1.0f64, 1_000_000.0f64);
        for _ in 0..60 {
            let mid = (lo * hi).sqrt();
            if self.heard(self.rssi_cdbm(mid, -4.0)) { lo = mid } else { hi = mid }
        }
        lo
    }
}

/// What the chain would say about a witness between two asserted cells at `rssi_cdbm`:
/// `Ok(())` if its distance and signal checks pass, else the rule that fails. Honest
/// devices check this before reporting (the rules and both locations are public).
pub fn witness_verdict(params: &Params, witness: u64, beaconer: u64, rssi_cdbm: i32) -> Verdict {
    let cp = &params.coverage;
    let Some(cells) = cells_apart(witness, beaconer) else { return Verdict::TooFar };
    if cells < cp.min_witness_cells {
        return Verdict::TooClose;
    }
    if cells > cp.max_witness_cells {
        return Verdict::TooFar;
    }
    let max = chain_max_rssi(params, cells);
    if i64::from(rssi_cdbm) > max { Verdict::AboveFspl { max_cdbm: max } } else { Verdict::Ok }
}

/// The strongest signal the chain accepts at `cells` resolution-11 cells, centi-dBm.
pub fn chain_max_rssi(params: &Params, cells: u64) -> i64 {
    let cp = &params.coverage;
    let distance_m = cells.saturating_mul(cp.cell_spacing_cm) / 100;
    max_rssi_cdbm(RADIO.tx_dbm, distance_m, u64::from(RADIO.freq_khz), cp.rssi_tolerance_cdb)
}

/// The chain's view of a witness, as an honest device predicts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    TooClose,
    TooFar,
    AboveFspl { max_cdbm: i64 },
}

/// The ground truth sensors measure: the city's mean, a daily cycle, and an urban heat
/// island that fades with the distance from the centre. Thousandths of a degree.
pub fn truth_milli(city: &City, at: LatLng, height: u64, blocks_per_day: u64) -> i64 {
    let day = blocks_per_day.max(1) as f64;
    let phase = (height % blocks_per_day.max(1)) as f64 / day * std::f64::consts::TAU;
    let centre = LatLng::new(city.lat, city.lng).map(|c| c.distance_km(at)).unwrap_or(0.0);
    let island = 2.0 * (-centre / 8.0).exp();
    let t = city.temp_c + 4.0 * phase.sin() + island;
    (t * 1000.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modelled_signal_never_exceeds_free_space_and_fades_with_distance() {
        let near = RADIO.rssi_cdbm(500.0, 0.0);
        let far = RADIO.rssi_cdbm(5_000.0, 0.0);
        assert!(near > far, "{near} vs {far}");
        // A very lucky shadowing draw is still capped by free space.
        let free = i64::from(RADIO.tx_dbm) * 100 - fspl_cdb(500, u64::from(RADIO.freq_khz));
        assert_eq!(i64::from(RADIO.rssi_cdbm(500.0, -20.0)), free);
        // At 5 km the model is well below free space and still heard without shadowing.
        assert!(RADIO.heard(far));
        assert!(!RADIO.heard(RADIO.rssi_cdbm(40_000.0, 0.0)));
        let range = RADIO.range_m();
        assert!((10_000.0..100_000.0).contains(&range), "{range}");
        assert!(RADIO.heard(RADIO.rssi_cdbm(range * 0.99, -4.0)));
    }

    #[test]
    fn honest_witness_prediction_follows_the_chain_rules() {
        let params = Params::default();
        let home = cell_at(48.85, 2.35).unwrap();
        let (lat, lng) = offset(48.85, 2.35, 2.0, 0.0);
        let two_km = cell_at(lat, lng).unwrap();
        let (lat, lng) = offset(48.85, 2.35, 0.1, 0.0);
        let close = cell_at(lat, lng).unwrap();
        let modelled = RADIO.rssi_cdbm(2_000.0, 0.0);
        assert_eq!(witness_verdict(&params, two_km, home, modelled), Verdict::Ok);
        assert_eq!(witness_verdict(&params, close, home, modelled), Verdict::TooClose);
        assert!(matches!(
            witness_verdict(&params, two_km, home, -2_000),
            Verdict::AboveFspl { .. }
        ));
    }

    /// Every city's hotspots beacon on a channel and at a power of their region plan, and
    /// whatever an honest hotspot hears lies in the chain's receiver range.
    #[test]
    fn the_modelled_radio_fits_the_region_plan_of_every_city() {
        let params = Params::default();
        for city in CITIES {
            let cell = cell_at(city.lat, city.lng).unwrap();
            let verdict = cairn_app::devices::reports::within_plan(
                &params,
                Some(cell),
                RADIO.freq_khz,
                RADIO.tx_dbm,
            );
            assert_eq!(verdict, Ok(()), "{}", city.name);
        }
        let radio = &params.coverage.radio;
        let weakest = (RADIO.sensitivity_dbm * 100.0) as i32;
        let strongest = chain_max_rssi(&params, params.coverage.min_witness_cells);
        assert!(weakest >= radio.min_rssi_cdbm, "{weakest}");
        assert!(strongest <= i64::from(radio.max_rssi_cdbm), "{strongest}");
    }

    #[test]
    fn truth_is_warmer_in_the_centre_and_follows_the_day() {
        let paris = CITIES[0];
        let centre = LatLng::new(paris.lat, paris.lng).unwrap();
        let (lat, lng) = offset(paris.lat, paris.lng, 30.0, 0.0);
        let suburb = LatLng::new(lat, lng).unwrap();
        assert!(truth_milli(&paris, centre, 0, 240) > truth_milli(&paris, suburb, 0, 240));
        assert!(truth_milli(&paris, centre, 60, 240) > truth_milli(&paris, centre, 180, 240));
    }
}
