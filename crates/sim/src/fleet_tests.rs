//! Fleet generation: determinism, the mix of classes and behaviours, placement.

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
        f.devices.iter().map(|d| (d.id, d.cell, d.class, d.behaviour, d.owner)).collect::<Vec<_>>()
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

#[test]
fn the_exploits_are_placed_as_their_attacks_need() {
    let p = Params::default();
    let (f, warnings) = Fleet::generate(spec(400, 0.2), &p).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let of = |b: Behaviour| -> Vec<&Device> {
        f.devices.iter().filter(|d| d.behaviour == Some(b)).collect()
    };
    assert!(!of(Behaviour::StorageInflater).is_empty());
    assert!(of(Behaviour::StorageInflater).iter().all(|d| d.class == DeviceClass::Storage));
    assert!(!of(Behaviour::DoubleWitness).is_empty());
    assert!(of(Behaviour::DoubleWitness).iter().all(|d| d.class == DeviceClass::Hotspot));
    // Loud beacons come in pairs of distinct owners within witness distance.
    let loud = of(Behaviour::LoudBeacon);
    assert!(loud.len() >= 2, "{}", loud.len());
    let cp = &p.coverage;
    for pair in loud.chunks_exact(2) {
        let (a, b) = (pair[0], pair[1]);
        assert_eq!((a.class, a.group), (DeviceClass::Hotspot, b.group));
        assert_ne!(a.owner, b.owner);
        let cells = cairn_app::devices::reports::cells_apart(a.cell, b.cell).unwrap();
        assert!((cp.min_witness_cells..=cp.max_witness_cells).contains(&cells), "{cells}");
    }
    // One self-dealer owns a relay and a compute device, and nothing else.
    let dealer = of(Behaviour::SelfDealer);
    let owner = dealer[0].owner;
    assert!(dealer.iter().all(|d| d.owner == owner));
    assert_eq!(f.owned_by(owner).count(), dealer.len());
    for class in [DeviceClass::Relay, DeviceClass::Compute] {
        assert!(dealer.iter().any(|d| d.class == class), "{class}");
    }
    // A griefer's idle hotspots sit two to a cell with the honest hotspot they aim at.
    let griefers = of(Behaviour::RosterGriefer);
    assert!(griefers.len() >= super::super::adversary::GRIEF_PER_TARGET);
    for g in &griefers {
        let t = &f.devices[g.source.unwrap()];
        assert!(t.honest() && t.class == DeviceClass::Hotspot);
        assert_eq!((g.class, g.cell), (DeviceClass::Hotspot, t.cell));
        let in_cell = griefers.iter().filter(|o| o.cell == t.cell).count();
        assert!(in_cell <= super::super::adversary::GRIEF_PER_TARGET);
    }
    let targets: std::collections::BTreeSet<usize> =
        griefers.iter().map(|g| g.source.unwrap()).collect();
    assert_eq!(targets.len(), griefers.len().div_ceil(super::super::adversary::GRIEF_PER_TARGET));
}
