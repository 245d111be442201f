//! Compute commit-reveal: a commitment in the last block of the commit window is accepted
//! and one at its end is `late_commit`; a reveal that does not match the commitment is
//! `commit_mismatch` while the matching one is accepted; a reveal in the last block of the
//! reveal window is accepted and one at its end finds the job settled (`job_closed`).

use cairn_app::compute::get_job;
use cairn_testkit::{CRN, ed_device, failure, market, register};
use cairn_types::compute::{commitment, job_id};
use cairn_types::{DeviceClass, Hash, Keypair, TxBody, TxFailure};

const COMMIT: u64 = 4;
const REVEAL: u64 = 4;

#[test]
fn compute_commits_and_reveals_outside_their_windows_or_not_matching_are_refused() {
    let consumer = Keypair::from_label("it-compute-consumer");
    let p = Keypair::from_label("it-compute-provider");
    let mut c = market(&consumer, &p, 10 * CRN, |params| {
        params.blocks_per_epoch = 1_000_000;
        params.compute.commit_window_blocks = COMMIT;
        params.compute.reveal_window_blocks = REVEAL;
    });
    let devs = [ed_device(1), ed_device(2), ed_device(3)];
    for d in &devs {
        c.ok(&p, register(d, &p, DeviceClass::Compute, 0, None));
    }
    let nonce = c.next_nonce(&consumer);
    let post = TxBody::PostJob {
        workload: Hash::sha256(b"workload"),
        input: Hash::sha256(b"input"),
        replication: 3,
        price: 1_000_000,
    };
    let posted = c.ok(&consumer, post).height;
    let job = job_id(&consumer.address(), nonce);
    let shown = get_job(&c.c.store, &job).unwrap().unwrap();
    assert_eq!(shown.commit_deadline, posted + COMMIT);
    let take = |d: usize| TxBody::TakeJob { job, device: devs[d].id() };
    c.send(&p, vec![take(0), take(1), take(2)]);

    let result = Hash::sha256(b"the answer");
    let salt = [9u8; 32];
    let commit = |d: usize| TxBody::CommitResult {
        job,
        device: devs[d].id(),
        commitment: commitment(&result, &salt, &devs[d].id()),
    };
    c.advance_to(shown.commit_deadline - 1);
    let rs = c.send(&p, vec![commit(0), commit(1)]);
    assert!(rs.iter().all(|r| r.is_success()), "{rs:?}");
    let r = c.send(&p, vec![commit(2)]).remove(0);
    assert_eq!(r.height, shown.commit_deadline);
    assert_eq!(*failure(&r), TxFailure::LateCommit { deadline: shown.commit_deadline });

    let reveal =
        |d: usize, salt: [u8; 32]| TxBody::RevealResult { job, device: devs[d].id(), result, salt };
    let rs = c.send(&p, vec![reveal(0, [8u8; 32]), reveal(0, salt)]);
    assert_eq!(*failure(&rs[0]), TxFailure::CommitMismatch { device: devs[0].id() });
    assert!(rs[1].is_success(), "{:?}", rs[1]);
    c.advance_to(shown.reveal_deadline - 1);
    assert!(c.send(&p, vec![reveal(1, salt)])[0].is_success());
    let r = c.send(&p, vec![reveal(1, salt)]).remove(0);
    assert_eq!(r.height, shown.reveal_deadline);
    // The job settles as the block at its reveal deadline starts, so the reveal finds it
    // closed.
    assert_eq!(*failure(&r), TxFailure::JobClosed { job });
}
