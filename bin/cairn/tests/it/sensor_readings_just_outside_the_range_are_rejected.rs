//! Sensor readings must lie in `[sensor.min_value, sensor.max_value]`: readings exactly at
//! either bound are accepted, one a thousandth beyond either is `out_of_range`, and the
//! sensor's epoch counts both.

use crate::harness::{self, NodeBuilder, crn};
use crate::on_demand::OnDemand;
use cairn_types::device::{RejectReason, Report, ReportPayload, SignedReport};
use cairn_types::{DeviceClass, Keypair, TxBody, TxOutcome};
use std::time::Duration;

#[test]
fn sensor_readings_just_outside_the_range_are_rejected() {
    harness::run(Duration::from_secs(60), async {
        let owner = Keypair::from_label("it-range-owner");
        let builder =
            NodeBuilder::new().blocks_per_epoch(1_000_000).fund(owner.address(), crn(1_000));
        let mut c = OnDemand::start(builder).await;
        let sp = c.node.client().params().await.unwrap().sensor;
        let dev = c.device(&owner, DeviceClass::Sensor, 1).await;
        let values = [sp.min_value, sp.min_value - 1, sp.max_value, sp.max_value + 1];
        let reports: Vec<SignedReport> = values
            .iter()
            .enumerate()
            .map(|(i, value)| {
                let report = Report {
                    device: dev.public_key(),
                    seq: i as u64 + 1,
                    epoch: 0,
                    timestamp_ms: crate::device_support::now_ms(),
                    payload: ReportPayload::Reading { value: *value },
                };
                let signature = dev.sign(&report.signing_message(&c.chain)).unwrap();
                SignedReport { report, signature }
            })
            .collect();
        let r = c.ok(&owner, TxBody::SubmitReports { reports }).await;
        let TxOutcome::Reports { accepted, rejected } = r.outcome else { panic!("{r:?}") };
        assert_eq!(accepted, 2);
        let got: Vec<(u32, RejectReason)> =
            rejected.into_iter().map(|x| (x.index, x.reason)).collect();
        let (min, max) = (sp.min_value, sp.max_value);
        assert_eq!(
            got,
            vec![
                (1, RejectReason::OutOfRange { value: min - 1, min, max }),
                (3, RejectReason::OutOfRange { value: max + 1, min, max }),
            ]
        );
        let shown = c.node.client().sensor(&dev.id(), Some(0)).await.unwrap();
        assert_eq!((shown.readings.readings, shown.readings.out_of_range), (2, 2));
    });
}
