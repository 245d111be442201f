//! The fleet: operators and their devices of every class, placed around cities, honest or
//! running one adversarial behaviour; consumers who buy service; the gateways that carry
//! reports. Everything is a function of the seed (and a salt that keeps runs apart on one
//! chain).

use super::draw::{self, tag};
use super::geo::{self, CITIES, City};
use anyhow::bail;
use cairn_types::device_key::{DeviceId, DeviceSigner};
use cairn_types::{DeviceClass, Keypair, Params};
use h3o::LatLng;
use rand::RngExt;

/// An adversarial behaviour; each can be switched on alone (`--behaviours`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    /// A hotspot that asserts a cell in another city and witnesses beacons there as if it
    /// stood there.
    Spoofer,
    /// Hotspots that witness only each other's beacons, with made-up signals.
    Ring,
    /// Resubmits its own earlier signed reports, hoping to be counted twice.
    Replayer,
    /// Claims to hear far beacons, reporting signals stronger than physics allows.
    Inflater,
    /// A storage provider that dropped the data and answers challenges from a hash.
    StorageCheat,
    /// A compute provider that reveals a guessed result instead of running the job.
    LazyCompute,
    /// A sensor that relays a neighbour's readings as its own.
    Copier,
    /// Many hotspots of one operator at one spot.
    Sybil,
}

impl Behaviour {
    pub const ALL: [Behaviour; 8] = [
        Behaviour::Spoofer,
        Behaviour::Ring,
        Behaviour::Replayer,
        Behaviour::Inflater,
        Behaviour::StorageCheat,
        Behaviour::LazyCompute,
        Behaviour::Copier,
        Behaviour::Sybil,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Behaviour::Spoofer => "spoofer",
            Behaviour::Ring => "ring",
            Behaviour::Replayer => "replayer",
            Behaviour::Inflater => "inflater",
            Behaviour::StorageCheat => "storage-cheat",
            Behaviour::LazyCompute => "lazy-compute",
            Behaviour::Copier => "copier",
            Behaviour::Sybil => "sybil",
        }
    }

    /// Fewest devices the behaviour needs.
    fn min_devices(self) -> usize {
        match self {
            Behaviour::Ring | Behaviour::Sybil => 3,
            _ => 1,
        }
    }

    /// The class of the behaviour's `i`-th device.
    fn class(self, i: usize) -> DeviceClass {
        match self {
            Behaviour::Spoofer | Behaviour::Ring | Behaviour::Inflater | Behaviour::Sybil => {
                DeviceClass::Hotspot
            }
            Behaviour::Replayer if i % 2 == 1 => DeviceClass::Hotspot,
            Behaviour::Replayer | Behaviour::Copier => DeviceClass::Sensor,
            Behaviour::StorageCheat => DeviceClass::Storage,
            Behaviour::LazyCompute => DeviceClass::Compute,
        }
    }
}

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
    /// Report gateways: the last carries the adversaries' reports.
    pub gateways: Vec<Keypair>,
    pub cities: Vec<City>,
}

/// Honest gateways (report streams submitted in parallel).
pub const HONEST_GATEWAYS: usize = 4;
/// Honest class mix, in percent.
const MIX: [(DeviceClass, u32); 6] = [
    (DeviceClass::Hotspot, 40),
    (DeviceClass::Sensor, 25),
    (DeviceClass::Storage, 10),
    (DeviceClass::Compute, 6),
    (DeviceClass::Relay, 11),
    (DeviceClass::Energy, 8),
];
/// Ring and farm sizes.
const RING_SIZE: usize = 5;
const FARM_SIZE: usize = 8;

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
fn around(spec: &FleetSpec, city: &City, spread_km: f64, i: usize, attempt: u64) -> (f64, f64) {
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
        f.gateways = (0..=HONEST_GATEWAYS).map(|i| key(&spec, 3, i)).collect();
        debug_assert_eq!(n, spec.devices);
        Ok((f, warnings))
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
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

    fn new_operator(&mut self) -> usize {
        self.operators.push(key(&self.spec, 1, self.operators.len()));
        self.operators.len() - 1
    }

    /// Places `count` devices of behaviour `b`.
    fn adversaries(
        &mut self,
        b: Behaviour,
        count: usize,
        ring_max: usize,
        pick_city: &dyn Fn(usize) -> usize,
        spread: &dyn Fn(&City) -> f64,
    ) -> anyhow::Result<()> {
        let cities = self.cities.clone();
        let mut farm_owner = None;
        let mut farm_spot = (0u64, Place { city: None, at: LatLng::new(0.0, 0.0)? });
        for k in 0..count {
            let i = self.devices.len();
            let class = b.class(k);
            let c = pick_city(i);
            let (lat, lng) = around(&self.spec, &cities[c], spread(&cities[c]), i, 0);
            let here = Place { city: Some(c), at: LatLng::new(lat, lng)? };
            let here_cell = geo::cell_at(lat, lng)?;
            match b {
                Behaviour::Spoofer => {
                    // Claims a spot in another city; lives in this one (or, with one city,
                    // far out in the countryside).
                    let owner = self.new_operator();
                    let (claimed, real) = if cities.len() > 1 {
                        let other = (c + 1) % cities.len();
                        let (la, ln) =
                            around(&self.spec, &cities[other], spread(&cities[other]), i, 1);
                        (Place { city: Some(other), at: LatLng::new(la, ln)? }, here)
                    } else {
                        let (la, ln) = geo::offset(cities[0].lat, cities[0].lng, 150.0, 40.0);
                        (here, Place { city: None, at: LatLng::new(la, ln)? })
                    };
                    let cell = geo::cell_at(claimed.at.lat(), claimed.at.lng())?;
                    self.push(class, Some(b), owner, cell, real, claimed, 0.0);
                }
                Behaviour::Ring => {
                    // Rings of about RING_SIZE (never above the detector's upper bound) on
                    // circles of 1.5 km in the countryside; each member has its own owner.
                    let rings = count.div_ceil(RING_SIZE.min(ring_max).max(3)).max(1);
                    let (ring, slot) = (k % rings, k / rings);
                    let members = count / rings + usize::from(ring < count % rings);
                    let angle = std::f64::consts::TAU * slot as f64 / members.max(1) as f64;
                    let west = -60.0 - 25.0 * ring as f64;
                    let (clat, clng) = geo::offset(cities[0].lat, cities[0].lng, west, 45.0);
                    // They all sit in one house at the centre and assert cells on the circle.
                    let (la, ln) = geo::offset(clat, clng, 1.5 * angle.cos(), 1.5 * angle.sin());
                    let claimed = Place { city: None, at: LatLng::new(la, ln)? };
                    let real = Place { city: None, at: LatLng::new(clat, clng)? };
                    let owner = self.new_operator();
                    self.push(class, Some(b), owner, geo::cell_at(la, ln)?, real, claimed, 0.0);
                    if let Some(d) = self.devices.last_mut() {
                        d.group = ring as u32;
                    }
                }
                Behaviour::Sybil => {
                    if farm_owner.is_none() || k % FARM_SIZE == 0 {
                        farm_owner = Some(self.new_operator());
                        farm_spot = (here_cell, here);
                    }
                    let owner = farm_owner.unwrap_or(0);
                    self.push(class, Some(b), owner, farm_spot.0, farm_spot.1, farm_spot.1, 0.0);
                    if let Some(d) = self.devices.last_mut() {
                        d.group = (k / FARM_SIZE) as u32;
                    }
                }
                Behaviour::Copier => {
                    // Next to an honest sensor of its city, whose feed it relays.
                    let source = self
                        .devices
                        .iter()
                        .position(|d| {
                            d.honest() && d.class == DeviceClass::Sensor && d.real.city == Some(c)
                        })
                        .or_else(|| {
                            self.devices
                                .iter()
                                .position(|d| d.honest() && d.class == DeviceClass::Sensor)
                        });
                    let (place, cell) = match source {
                        Some(s) => {
                            let at = self.devices[s].real.at;
                            let (la, ln) = geo::offset(at.lat(), at.lng(), 0.3, 0.2);
                            (
                                Place { city: self.devices[s].real.city, at: LatLng::new(la, ln)? },
                                geo::cell_at(la, ln)?,
                            )
                        }
                        None => (here, here_cell),
                    };
                    let owner = self.new_operator();
                    self.push(class, Some(b), owner, cell, place, place, 0.0);
                    if let Some(d) = self.devices.last_mut() {
                        d.source = source;
                    }
                }
                _ => {
                    let owner = self.new_operator();
                    self.push(class, Some(b), owner, here_cell, here, here, 0.0);
                }
            }
        }
        Ok(())
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
mod tests {
    use super::*;

    fn spec(devices: usize, adversarial: f64) -> FleetSpec {
        FleetSpec { devices, adversarial, behaviours: Behaviour::ALL.to_vec(), seed: 7, salt: 0 }
    }

    #[test]
    fn the_same_seed_builds_the_same_fleet() {
        let p = Params::default();
        let (a, _) = Fleet::generate(spec(300, 0.1), &p).unwrap();
        let (b, _) = Fleet::generate(spec(300, 0.1), &p).unwrap();
        let key = |f: &Fleet| {
            f.devices
                .iter()
                .map(|d| (d.id, d.cell, d.class, d.behaviour, d.owner))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&a), key(&b));
        let (c, _) = Fleet::generate(FleetSpec { seed: 8, ..spec(300, 0.1) }, &p).unwrap();
        assert_ne!(key(&a), key(&c));
    }

    #[test]
    fn every_class_and_every_behaviour_is_present() {
        let (f, warnings) = Fleet::generate(spec(200, 0.2), &Params::default()).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(f.devices.len(), 200);
        for class in DeviceClass::ALL {
            assert!(f.devices.iter().any(|d| d.class == class && d.honest()), "{class}");
        }
        for b in Behaviour::ALL {
            assert!(f.devices.iter().any(|d| d.behaviour == Some(b)), "{b:?}");
        }
        let adversaries = f.devices.iter().filter(|d| !d.honest()).count();
        assert_eq!(adversaries, 40);
        // Honest cells are distinct; a farm shares one.
        let honest: std::collections::BTreeSet<u64> =
            f.devices.iter().filter(|d| d.honest()).map(|d| d.cell).collect();
        assert_eq!(honest.len(), f.devices.iter().filter(|d| d.honest()).count());
        let farm: Vec<u64> = f
            .devices
            .iter()
            .filter(|d| d.behaviour == Some(Behaviour::Sybil))
            .map(|d| d.cell)
            .collect();
        assert!(farm.windows(2).all(|w| w[0] == w[1]));
        // Ring members have distinct owners; a copier names an honest sensor.
        let ring: Vec<usize> = f
            .devices
            .iter()
            .filter(|d| d.behaviour == Some(Behaviour::Ring))
            .map(|d| d.owner)
            .collect();
        assert_eq!(ring.iter().collect::<std::collections::BTreeSet<_>>().len(), ring.len());
        let copier = f.devices.iter().find(|d| d.behaviour == Some(Behaviour::Copier)).unwrap();
        assert!(f.devices[copier.source.unwrap()].honest());
    }

    #[test]
    fn too_few_adversarial_devices_leave_behaviours_out_with_a_warning() {
        let (f, warnings) = Fleet::generate(spec(20, 0.1), &Params::default()).unwrap();
        assert_eq!(f.devices.iter().filter(|d| !d.honest()).count(), 2);
        assert!(warnings.iter().any(|w| w.contains("ring")), "{warnings:?}");
        assert!(Fleet::generate(spec(10, 1.5), &Params::default()).is_err());
        assert!(Fleet::generate(spec(0, 0.1), &Params::default()).is_err());
    }
}
