//! The co-located hotspots rule on hand-built inputs.

use super::*;

fn id(i: u8) -> DeviceId {
    Hash([i; 32])
}

#[test]
fn three_hotspots_active_in_one_cell_are_all_flagged_two_are_not() {
    let p = FraudParams::default(); // colocated_min 3
    let (farm, pair, alone) = (11u64, 22u64, 7u64);
    let cells = vec![
        (id(1), farm),
        (id(2), pair),
        (id(3), farm),
        (id(4), alone),
        (id(5), farm),
        (id(6), pair),
    ];
    let cells: Vec<HotspotCell> =
        cells.into_iter().map(|(device, cell)| HotspotCell { device, cell }).collect();
    let flags = detect(&p, &FraudInputs { cells: cells.clone(), ..FraudInputs::default() });
    assert_eq!(flags.keys().copied().collect::<Vec<_>>(), vec![id(1), id(3), id(5)]);
    assert_eq!(flags[&id(3)], vec![Evidence::Colocated { cell: farm, hotspots: 3 }]);
    assert_eq!(flags[&id(3)][0].detector(), "colocated");

    let pairs = FraudParams { colocated_min: 2, ..FraudParams::default() };
    let flagged = detect(&pairs, &FraudInputs { cells: cells.clone(), ..FraudInputs::default() });
    assert_eq!(flagged.len(), 5, "every shared cell, pairs too");
    assert_eq!(flagged[&id(2)], vec![Evidence::Colocated { cell: pair, hotspots: 2 }]);

    let off = FraudParams { colocated_min: 0, ..FraudParams::default() };
    assert!(detect(&off, &FraudInputs { cells, ..FraudInputs::default() }).is_empty());
}

#[test]
fn a_farm_that_is_also_a_ring_carries_both_findings() {
    let p = FraudParams::default();
    let cell = 42u64;
    let witnessed =
        vec![(id(1), vec![id(2), id(3)]), (id(2), vec![id(1), id(3)]), (id(3), vec![id(1), id(2)])];
    let cells = [id(1), id(2), id(3)].map(|device| HotspotCell { device, cell }).to_vec();
    let flags =
        detect(&p, &FraudInputs { witnessed: witnessed.into(), cells, ..FraudInputs::default() });
    assert_eq!(flags.len(), 3);
    let detectors: Vec<&str> = flags[&id(2)].iter().map(Evidence::detector).collect();
    assert_eq!(detectors, vec!["witness_ring", "colocated"]);
}

#[test]
fn a_device_every_detector_flags_carries_the_findings_in_the_detectors_order() {
    let p = FraudParams::default();
    let cell = |lat: f64, lng: f64| {
        u64::from(h3o::LatLng::new(lat, lng).unwrap().to_cell(h3o::Resolution::Twelve))
    };
    let (paris, lyon) = (cell(48.85, 2.35), cell(45.76, 4.84));
    let witnessed =
        vec![(id(1), vec![id(2), id(3)]), (id(2), vec![id(1), id(3)]), (id(3), vec![id(1), id(2)])];
    let d = Hash::sha256(b"stream");
    let inputs = FraudInputs {
        witnessed: witnessed.into(),
        moves: vec![Move { device: id(2), from: paris, to: lyon, blocks: 500 }],
        sensors: vec![
            SensorStream { device: id(9), registered: 1, readings: 10, digest: d },
            SensorStream { device: id(2), registered: 5, readings: 10, digest: d },
        ],
        cells: [id(1), id(2), id(3)].map(|device| HotspotCell { device, cell: lyon }).to_vec(),
    };
    let flags = detect(&p, &inputs);
    assert_eq!(flags.keys().copied().collect::<Vec<_>>(), vec![id(1), id(2), id(3)]);
    let detectors: Vec<&str> = flags[&id(2)].iter().map(Evidence::detector).collect();
    assert_eq!(detectors, vec!["witness_ring", "implausible_move", "copied_sensor", "colocated"]);
}
