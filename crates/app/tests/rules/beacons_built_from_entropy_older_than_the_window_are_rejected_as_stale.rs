//! Beacons must be built from chain entropy at most `entropy_max_age_blocks` old: one that
//! uses entropy exactly that old is accepted, one a block older is `stale_entropy`, and one
//! whose data does not derive from the entropy it names is `bad_beacon`.

use cairn_testkit::coverage::{ENTROPY_MAX_AGE, FREQ, Field, TX_DBM};
use cairn_testkit::devices::last_seq;
use cairn_types::ReportPayload;
use cairn_types::device::{RejectReason, beacon_data};

#[test]
fn beacons_built_from_entropy_older_than_the_window_are_rejected_as_stale() {
    let mut f = Field::start("it-stale-entropy");
    let a = f.a.clone();
    let (x, y, z) = (f.hotspot(&a, None), f.hotspot(&a, None), f.hotspot(&a, None));
    let h = 12;
    f.advance_to(h);
    let inside = f.beacon_report(&x, h - ENTROPY_MAX_AGE);
    let outside = f.beacon_report(&y, h - ENTROPY_MAX_AGE - 1);
    // Data from the entropy of h − 2 while naming h − 1.
    let other = f.entropy(h - 2);
    let payload = ReportPayload::Beacon {
        entropy_height: h - 1,
        data: beacon_data(&other, &z.id()),
        frequency_khz: FREQ,
        tx_power_dbm: TX_DBM,
    };
    let forged = f.report(&z, payload);
    let (at, accepted, rejected) = f.submit(vec![inside, outside, forged]);
    assert_eq!(at, h);
    assert_eq!(accepted, 1);
    assert_eq!(
        rejected,
        vec![
            (
                1,
                RejectReason::StaleEntropy {
                    entropy_height: h - ENTROPY_MAX_AGE - 1,
                    height: h,
                    max_age: ENTROPY_MAX_AGE
                }
            ),
            (2, RejectReason::BadBeacon { entropy_height: h - 1 }),
        ]
    );
    let last_seq = last_seq(&f.net.c.store, &x.id());
    assert_eq!(last_seq, 1, "the accepted beacon moved x's cursor");
}
