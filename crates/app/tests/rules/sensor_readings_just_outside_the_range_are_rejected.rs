//! Sensor readings must lie in `[sensor.min_value, sensor.max_value]`: readings exactly at
//! either bound are accepted, one a thousandth beyond either is `out_of_range`, and the
//! sensor's epoch counts both.

use cairn_testkit::devices::{activity, reading};
use cairn_testkit::{CRN, Net, ed_device, genesis, register, verdicts};
use cairn_types::device::RejectReason;
use cairn_types::{DeviceClass, Keypair, SignedReport, TxBody};

#[test]
fn sensor_readings_just_outside_the_range_are_rejected() {
    let owner = Keypair::from_label("it-range-owner");
    let mut g = genesis(&[&owner], 1_000 * CRN);
    g.params.blocks_per_epoch = 1_000_000;
    let mut n = Net::new(&g);
    let sp = n.params().sensor;
    let dev = ed_device(1);
    n.ok(&owner, register(&dev, &owner, DeviceClass::Sensor, 0, None));
    let values = [sp.min_value, sp.min_value - 1, sp.max_value, sp.max_value + 1];
    let ts = n.c.parent.timestamp_ms;
    let reports: Vec<SignedReport> =
        values.iter().enumerate().map(|(i, v)| reading(&dev, i as u64 + 1, 0, ts, *v)).collect();
    let r = n.ok(&owner, TxBody::SubmitReports { reports });
    let (accepted, got) = verdicts(&r);
    assert_eq!(accepted, 2);
    let (min, max) = (sp.min_value, sp.max_value);
    assert_eq!(
        got,
        vec![
            (1, RejectReason::OutOfRange { value: min - 1, min, max }),
            (3, RejectReason::OutOfRange { value: max + 1, min, max }),
        ]
    );
    let shown = activity(&n.c.store, &dev.id(), 0).sensor.unwrap_or_default();
    assert_eq!((shown.readings, shown.out_of_range), (2, 2));
}
