//! The fleet: operators and their devices of every class, placed around cities, honest or
//! running one adversarial behaviour; consumers who buy service; the gateways that carry
//! reports. Everything is a function of the seed (and a salt that keeps runs apart on one
//! chain).

pub use super::adversary::Behaviour;
use super::draw::{self, tag};
use super::geo::{self, CITIES, City};
use anyhow::bail;
use cairn_types::device_key::{DeviceId, DeviceSigner};
use cairn_types::{DeviceClass, Keypair, Params};
use h3o::LatLng;
use rand::RngExt;

/// Where a device is.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    /// The city it is in (None: the countryside, far from every city).
    pub city: Option<usize>,
    pub at: LatLng,
}

#[derive(Debug, Clone)]
pub struct Device {
    pub signer: DeviceSigner,
    pub id: DeviceId,
    pub class: DeviceClass,
    /// None: honest.
    pub behaviour: Option<Behaviour>,
    /// Index into [`Fleet::operators`].
    pub owner: usize,
    /// The cell its owner asserts (resolution 12).
    pub cell: u64,
    /// Where it really is: radio and sensors follow this.
    pub real: Place,
    /// Where it claims to be.
    pub claimed: Place,
    /// Chance of missing a heartbeat slot (being off for it).
    pub loss: f64,
    /// A copier's source sensor.
    pub source: Option<usize>,
    /// Sensor calibration offset, thousandths.
    pub bias: i64,
    /// A ring's or farm's number.
    pub group: u32,
}

impl Device {
    pub fn honest(&self) -> bool {
        self.behaviour.is_none()
    }
}

/// What the fleet is made of.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    pub devices: usize,
    pub adversarial: f64,
    pub behaviours: Vec<Behaviour>,
    pub seed: u64,
    /// Keeps the keys of separate runs on one chain apart.
    pub salt: u64,
}

pub struct Fleet {
    pub spec: FleetSpec,
    pub devices: Vec<Device>,
    pub operators: Vec<Keypair>,
    pub consumers: Vec<Keypair>,
    /// Report gateways, [`GATEWAYS_PER_STREAM`] per stream; the last two streams carry the
    /// adversaries' reports (those sent after the honest ones, and a double witness's, sent
    /// before them).
    pub gateways: Vec<Keypair>,
    pub cities: Vec<City>,
}

/// Honest report streams, submitted in parallel (two more carry the adversaries').
pub const HONEST_GATEWAYS: usize = 4;
/// Gateway accounts per stream: a stream's transactions of a tick go to them in turns of
/// [`TXS_PER_GATEWAY`], under the mempool's per-sender limit.
pub const GATEWAYS_PER_STREAM: usize = 8;
pub const TXS_PER_GATEWAY: usize = 200;
/// Honest class mix, in percent.
const MIX: [(DeviceClass, u32); 6] = [
    (DeviceClass::Hotspot, 40),
    (DeviceClass::Sensor, 25),
    (DeviceClass::Storage, 10),
    (DeviceClass::Compute, 6),
    (DeviceClass::Relay, 11),
    (DeviceClass::Energy, 8),
];

fn key(spec: &FleetSpec, kind: u64, i: usize) -> Keypair {
    Keypair::from_secret(draw::bytes32(&[tag::KEY, spec.seed, spec.salt, kind, i as u64]))
}

/// How many devices each enabled behaviour gets: each its minimum, then the rest in turn.
fn allocate(spec: &FleetSpec) -> (Vec<(Behaviour, usize)>, Vec<String>) {
    let total = (spec.devices as f64 * spec.adversarial).round() as usize;
    let mut warnings = Vec::new();
    let mut out: Vec<(Behaviour, usize)> = Vec::new();
    let mut left = total;
    for b in &spec.behaviours {
        if left >= b.min_devices() {
            out.push((*b, b.min_devices()));
            left -= b.min_devices();
        } else {
            warnings.push(format!(
                "{} needs at least {} adversarial devices; left out",
                b.name(),
                b.min_devices()
            ));
        }
    }
    let n = out.len();
    let mut i = 0;
    while left > 0 && n > 0 {
        out[i % n].1 += 1;
        left -= 1;
        i += 1;
    }
    (out, warnings)
}

/// Honest devices per class by largest remainder, keeping what the adversaries need
/// (a sensor to copy, compute peers to outvote a lazy one).
fn honest_classes(n: usize, groups: &[(Behaviour, usize)]) -> Vec<DeviceClass> {
    let mut counts: Vec<(DeviceClass, usize, u64)> = MIX
        .iter()
        .map(|(c, pct)| {
            let exact = n as u64 * u64::from(*pct);
            (*c, (exact / 100) as usize, exact % 100)
        })
        .collect();
    let given: usize = counts.iter().map(|c| c.1).sum();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(counts[*i].2));
    for i in order.into_iter().cycle().take(n.saturating_sub(given)) {
        counts[i].1 += 1;
    }
    let has = |b: Behaviour| groups.iter().any(|(g, _)| *g == b);
    let mut need = |class: DeviceClass, min: usize| {
        let have = counts.iter().find(|c| c.0 == class).map_or(0, |c| c.1);
        for _ in have..min {
            if let Some(donor) = counts.iter_mut().filter(|c| c.0 != class).max_by_key(|c| c.1)
                && donor.1 > 1
            {
                donor.1 -= 1;
                if let Some(c) = counts.iter_mut().find(|c| c.0 == class) {
                    c.1 += 1;
                }
            }
        }
    };
    if has(Behaviour::Copier) {
        need(DeviceClass::Sensor, 1);
    }
    if has(Behaviour::LazyCompute) {
        need(DeviceClass::Compute, 2);
    }
    counts.into_iter().flat_map(|(c, k, _)| std::iter::repeat_n(c, k)).collect()
}

/// A point around `city`, spread by `spread_km`.
pub(super) fn around(
    spec: &FleetSpec,
    city: &City,
    spread_km: f64,
    i: usize,
    attempt: u64,
) -> (f64, f64) {
    let e = spread_km * draw::normal(&[tag::PLACE, spec.seed, i as u64, attempt, 0]);
    let n = spread_km * draw::normal(&[tag::PLACE, spec.seed, i as u64, attempt, 1]);
    geo::offset(city.lat, city.lng, e, n)
}

impl Fleet {
    /// Builds the fleet. Warnings name behaviours left out for want of devices.
    pub fn generate(spec: FleetSpec, params: &Params) -> anyhow::Result<(Fleet, Vec<String>)> {
        if spec.devices == 0 {
            bail!("--devices must be at least 1");
        }
        if !(0.0..=1.0).contains(&spec.adversarial) || spec.adversarial.is_nan() {
            bail!("--adversarial must be a fraction from 0 to 1, got {}", spec.adversarial);
        }
        let (groups, warnings) = allocate(&spec);
        let adversaries: usize = groups.iter().map(|g| g.1).sum();
        let honest = spec.devices - adversaries;
        let cities: Vec<City> = CITIES[..geo::city_count(spec.devices)].to_vec();
        // Larger cities take more devices: weight 1 / (rank + 1).
        let weights: Vec<f64> = (0..cities.len()).map(|r| 1.0 / (r as f64 + 1.0)).collect();
        let wsum: f64 = weights.iter().sum();
        let pick_city = |i: usize| {
            let mut u = draw::uniform(&[tag::PLACE, spec.seed, i as u64, 99]) * wsum;
            for (c, w) in weights.iter().enumerate() {
                if u < *w {
                    return c;
                }
                u -= w;
            }
            cities.len() - 1
        };
        let per_city = (spec.devices / cities.len()).max(1) as f64;
        let spread = |c: &City| {
            c.spread_km * (per_city / geo::DEVICES_PER_CITY as f64).sqrt().clamp(0.3, 1.0)
        };

        let mut f = Fleet {
            spec: spec.clone(),
            devices: Vec::with_capacity(spec.devices),
            operators: Vec::new(),
            consumers: Vec::new(),
            gateways: Vec::new(),
            cities: cities.clone(),
        };
        let mut used = std::collections::BTreeSet::new();
        // Honest devices: distinct cells, operators owning one to a handful each.
        let mut owner = 0usize;
        let mut left_in_owner = 0usize;
        for (i, class) in honest_classes(honest, &groups).into_iter().enumerate() {
            if left_in_owner == 0 {
                let u = draw::uniform(&[tag::FLEET, spec.seed, owner as u64]);
                left_in_owner = if u < 0.6 {
                    1
                } else if u < 0.85 {
                    2 + (u * 10.0) as usize % 2
                } else {
                    4 + (u * 100.0) as usize % 7
                };
                f.operators.push(key(&spec, 1, f.operators.len()));
                owner = f.operators.len() - 1;
            }
            left_in_owner -= 1;
            let c = pick_city(i);
            let mut attempt = 0;
            let (cell, at) = loop {
                let (lat, lng) = around(&spec, &cities[c], spread(&cities[c]), i, attempt);
                let cell = geo::cell_at(lat, lng)?;
                if used.insert(cell) || attempt > 20 {
                    break (cell, geo::centre(cell)?);
                }
                attempt += 1;
            };
            let u = draw::uniform(&[tag::UPTIME, spec.seed, i as u64]);
            let place = Place { city: Some(c), at };
            f.push(class, None, owner, cell, place, place, if u < 0.87 { 0.01 } else { 0.15 });
        }
        let params_ring_max = params.fraud.ring_max.max(3) as usize;
        for (b, count) in &groups {
            f.adversaries(*b, *count, params_ring_max, &pick_city, &spread)?;
        }
        let n = f.devices.len();
        let work = f
            .devices
            .iter()
            .filter(|d| !matches!(d.class, DeviceClass::Hotspot | DeviceClass::Sensor))
            .count();
        f.consumers = (0..(work / 150).max(2)).map(|i| key(&spec, 2, i)).collect();
        f.gateways =
            (0..(HONEST_GATEWAYS + 2) * GATEWAYS_PER_STREAM).map(|i| key(&spec, 3, i)).collect();
        debug_assert_eq!(n, spec.devices);
        Ok((f, warnings))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn push(
        &mut self,
        class: DeviceClass,
        behaviour: Option<Behaviour>,
        owner: usize,
        cell: u64,
        real: Place,
        claimed: Place,
        loss: f64,
    ) {
        let i = self.devices.len();
        let s = &self.spec;
        let signer = DeviceSigner::from_ed25519_seed(draw::bytes32(&[
            tag::KEY,
            s.seed,
            s.salt,
            0,
            i as u64,
        ]));
        let bias = (300.0 * draw::normal(&[tag::SENSOR, s.seed, i as u64])).round() as i64;
        self.devices.push(Device {
            id: signer.id(),
            signer,
            class,
            behaviour,
            owner,
            cell,
            real,
            claimed,
            loss,
            source: None,
            bias,
            group: 0,
        });
    }

    pub(super) fn new_operator(&mut self) -> usize {
        self.operators.push(key(&self.spec, 1, self.operators.len()));
        self.operators.len() - 1
    }

    /// The gateway that signs the `n`-th transaction of a tick on `stream`.
    pub fn gateway(&self, stream: usize, n: usize) -> &Keypair {
        let i = stream * GATEWAYS_PER_STREAM + (n / TXS_PER_GATEWAY) % GATEWAYS_PER_STREAM;
        &self.gateways[i.min(self.gateways.len() - 1)]
    }

    /// Devices whose owner is operator `o`.
    pub fn owned_by(&self, o: usize) -> impl Iterator<Item = (usize, &Device)> {
        self.devices.iter().enumerate().filter(move |(_, d)| d.owner == o)
    }

    /// A random pick of `k` distinct indices out of `n`, for `parts`.
    pub fn pick(n: usize, k: usize, parts: &[u64]) -> Vec<usize> {
        let mut rng = draw::rng(parts);
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k.min(n) {
            let j = rng.random_range(i..n);
            all.swap(i, j);
        }
        all.truncate(k.min(n));
        all
    }
}

#[cfg(test)]
#[path = "fleet_tests.rs"]
mod tests;
