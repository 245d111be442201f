//! The eight adversarial behaviours and where their devices go: a spoofer lives in one city
//! and claims another, a ring sits in one house and claims a circle around it, a Sybil farm
//! stacks an operator's hotspots in one cell, a copier stands next to the sensor it copies.

use super::fleet::{Fleet, Place, around};
use super::geo::{self, City};
use cairn_types::DeviceClass;
use h3o::LatLng;

/// Ring and farm sizes.
const RING_SIZE: usize = 5;
const FARM_SIZE: usize = 8;

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
    pub(super) fn min_devices(self) -> usize {
        match self {
            Behaviour::Ring | Behaviour::Sybil => 3,
            _ => 1,
        }
    }

    /// The class of the behaviour's `i`-th device.
    pub(super) fn class(self, i: usize) -> DeviceClass {
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

impl Fleet {
    /// Places `count` devices of behaviour `b`.
    pub(super) fn adversaries(
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
}
