//! A beacon counts at most `witness_cap` witnesses, first accepted first counted: with a cap
//! of 2, the second witness in a batch is accepted and the third is `witness_cap`, and a
//! witness arriving in a later block is refused too. The beacon's count stays at the cap.

use cairn_testkit::coverage::{FREQ, Field, WEAK, WITNESS_CAP};
use cairn_testkit::devices::activity;
use cairn_types::device::RejectReason;

#[test]
fn witnesses_beyond_the_cap_are_rejected_in_acceptance_order() {
    let mut f = Field::start("it-witness-cap");
    let mut ws = Vec::new();
    for k in 9..13 {
        ws.push(f.witness_at(k));
    }
    let beaconer = f.beaconer.clone();
    let hb = f.beacon(&beaconer);
    let batch: Vec<_> = ws[..3].iter().map(|d| f.witness(d, hb, WEAK, FREQ)).collect();
    let (_, accepted, rejected) = f.submit(batch);
    assert_eq!(accepted, WITNESS_CAP);
    assert_eq!(rejected, vec![(2, RejectReason::WitnessCap { cap: WITNESS_CAP })]);
    let later = f.witness(&ws[3], hb, WEAK, FREQ);
    let (_, accepted, rejected) = f.submit(vec![later]);
    assert_eq!(accepted, 0);
    assert_eq!(rejected, vec![(0, RejectReason::WitnessCap { cap: WITNESS_CAP })]);
    let counted: u32 = ws.iter().map(|d| activity(&f.net.c.store, &d.id(), 0).witnesses).sum();
    assert_eq!(counted, WITNESS_CAP, "only the capped witnesses count in the epoch");
}
