//! The adversarial behaviours and where their devices go: a spoofer lives in one city and
//! claims another, a ring sits in one house and claims a circle around it, a Sybil farm
//! stacks an operator's hotspots in one cell, a copier stands next to the sensor it copies,
//! loud beacons come in pairs of partners within witness distance, a self-dealer's devices
//! all belong to one attacker, and a roster griefer's idle hotspots sit in the cells of the
//! honest hotspots it wants held.

use super::fleet::{Fleet, Place, around};
use super::geo::{self, City};
use cairn_types::DeviceClass;
use h3o::LatLng;

/// Ring and farm sizes.
const RING_SIZE: usize = 5;
const FARM_SIZE: usize = 8;
/// A roster griefer's idle hotspots per honest target: with the target, the co-location
/// rule's three in one cell (`fraud.colocated_min`, 3 by default).
pub(super) const GRIEF_PER_TARGET: usize = 2;

/// An adversarial behaviour; each can be switched on alone (`--behaviours`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
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
    /// A storage provider whose own consumer opens a deal declaring as many bytes as the
    /// chain accepts over a tree of one chunk repeated, and answers with that chunk.
    StorageInflater,
    /// Witnesses a beacon honestly, then reports the same beacon again under fresh
    /// sequence numbers.
    DoubleWitness,
    /// Declares an absurd transmit power and an off-plan frequency in its beacons; its
    /// partner witnesses them at a signal above physical bounds.
    LoudBeacon,
    /// Buys a few credits and spends them on itself: a usage channel to its own relay with
    /// large unit counts, and many small jobs at replication 1 on its own compute devices.
    SelfDealer,
    /// Replays its idle hotspots' old accepted reports (rejected as replays) so they are on
    /// the epoch's roster next to an honest hotspot, hoping to get it held as co-located.
    RosterGriefer,
}

impl Behaviour {
    pub const ALL: [Behaviour; 13] = [
        Behaviour::Spoofer,
        Behaviour::Ring,
        Behaviour::Replayer,
        Behaviour::Inflater,
        Behaviour::StorageCheat,
        Behaviour::LazyCompute,
        Behaviour::Copier,
        Behaviour::Sybil,
        Behaviour::StorageInflater,
        Behaviour::DoubleWitness,
        Behaviour::LoudBeacon,
        Behaviour::SelfDealer,
        Behaviour::RosterGriefer,
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
            Behaviour::StorageInflater => "storage-inflater",
            Behaviour::DoubleWitness => "double-witness",
            Behaviour::LoudBeacon => "loud-beacon",
            Behaviour::SelfDealer => "self-dealer",
            Behaviour::RosterGriefer => "roster-griefer",
        }
    }

    /// Fewest devices the behaviour needs.
    pub(super) fn min_devices(self) -> usize {
        match self {
            Behaviour::Ring | Behaviour::Sybil => 3,
            // A beacon and its partner witness; a relay and a compute device; two idle
            // hotspots that make three with the honest one in its cell.
            Behaviour::LoudBeacon | Behaviour::SelfDealer => 2,
            Behaviour::RosterGriefer => GRIEF_PER_TARGET,
            _ => 1,
        }
    }

    /// The class of the behaviour's `i`-th device.
    pub(super) fn class(self, i: usize) -> DeviceClass {
        match self {
            Behaviour::Spoofer
            | Behaviour::Ring
            | Behaviour::Inflater
            | Behaviour::Sybil
            | Behaviour::DoubleWitness
            | Behaviour::LoudBeacon
            | Behaviour::RosterGriefer => DeviceClass::Hotspot,
            Behaviour::Replayer if i % 2 == 1 => DeviceClass::Hotspot,
            Behaviour::Replayer | Behaviour::Copier => DeviceClass::Sensor,
            Behaviour::StorageCheat | Behaviour::StorageInflater => DeviceClass::Storage,
            Behaviour::LazyCompute => DeviceClass::Compute,
            Behaviour::SelfDealer if i % 2 == 1 => DeviceClass::Compute,
            Behaviour::SelfDealer => DeviceClass::Relay,
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
        let mut attacker = None;
        let targets = self.grief_targets(b, count);
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
                Behaviour::LoudBeacon => {
                    // Pairs of partners 1.5 km apart, each with its own owner so they may
                    // witness each other (a lone last one beacons loudly unheard). Pairs, not
                    // trios: three that witness only each other are a witness ring.
                    let pair = k / 2;
                    let place = if k % 2 == 1 {
                        let (la, ln) = geo::offset(lat, lng, 1.5, 0.0);
                        Place { city: Some(c), at: LatLng::new(la, ln)? }
                    } else {
                        here
                    };
                    let cell = geo::cell_at(place.at.lat(), place.at.lng())?;
                    let owner = self.new_operator();
                    self.push(class, Some(b), owner, cell, place, place, 0.0);
                    if let Some(d) = self.devices.last_mut() {
                        d.group = pair as u32;
                    }
                }
                Behaviour::SelfDealer | Behaviour::RosterGriefer => {
                    // One attacker owns them all; a griefer's hotspots sit in their target's
                    // cell (or where they are, without an honest hotspot to aim at).
                    let owner = *attacker.get_or_insert_with(|| self.new_operator());
                    let target = targets.get(k / GRIEF_PER_TARGET).copied();
                    let (cell, place) = match target {
                        Some(t) => (self.devices[t].cell, self.devices[t].real),
                        None => (here_cell, here),
                    };
                    self.push(class, Some(b), owner, cell, place, place, 0.0);
                    if let Some(d) = self.devices.last_mut() {
                        d.source = target;
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

    /// A roster griefer's targets: one honest hotspot for each [`GRIEF_PER_TARGET`] of its
    /// `count` devices, picked from the seed.
    fn grief_targets(&self, b: Behaviour, count: usize) -> Vec<usize> {
        if b != Behaviour::RosterGriefer {
            return Vec::new();
        }
        let honest: Vec<usize> = (0..self.devices.len())
            .filter(|&d| self.devices[d].honest() && self.devices[d].class == DeviceClass::Hotspot)
            .collect();
        let want = count.div_ceil(GRIEF_PER_TARGET);
        let picks = Fleet::pick(honest.len(), want, &[super::draw::tag::CHEAT, self.spec.seed]);
        picks.into_iter().map(|i| honest[i]).collect()
    }
}
