//! A storage provider must answer its deal's challenge with the challenged chunk
//! (`wrong_chunk`), a Merkle path that proves it, of the length the committed chunk count
//! gives (`bad_merkle_path`), and before the deadline (`late_response`). A correct answer in the last block before the deadline is
//! accepted; the same answer at the deadline is refused, and the unanswered challenge is a
//! fault at the next epoch start.

use cairn_app::storage::get_deal;
use cairn_testkit::{CRN, ed_device, failure, market, register};
use cairn_types::storage::{chunk_proof, chunk_root, chunks, deal_id};
use cairn_types::{DeviceClass, Keypair, TxBody, TxFailure, TxStatus};

const EPOCH: u64 = 10;
const RESPONSE: u64 = 3;

#[test]
fn storage_answers_with_the_wrong_chunk_a_bad_path_or_after_the_deadline_are_refused() {
    let consumer = Keypair::from_label("it-storage-consumer");
    let provider = Keypair::from_label("it-storage-provider");
    let mut c = market(&consumer, &provider, 10 * CRN, |p| {
        p.blocks_per_epoch = EPOCH;
        p.storage.response_blocks = RESPONSE;
    });
    let dev = ed_device(1);
    c.ok(&provider, register(&dev, &provider, DeviceClass::Storage, 0, None));
    let chunk_size = c.params().storage.chunk_size as usize;
    let data: Vec<u8> = (0..5 * chunk_size).map(|i| (i * 7 % 251) as u8).collect();
    let parts = chunks(&data, chunk_size);
    assert_eq!(parts.len(), 5);
    let nonce = c.next_nonce(&consumer);
    let open = TxBody::OpenDeal {
        device: dev.id(),
        root: chunk_root(&parts),
        chunks: parts.len() as u64,
        duration_epochs: 3,
        price_per_epoch: 1_000_000,
    };
    c.ok(&consumer, open);
    let deal = deal_id(&consumer.address(), nonce);
    c.ok(&provider, TxBody::AcceptDeal { deal });
    let prove = |index: u64, path: Vec<cairn_types::Hash>| TxBody::ProveStorage {
        deal,
        index,
        chunk: parts[index as usize].to_vec(),
        path,
    };

    // Block EPOCH opens epoch 1 and issues the first challenge.
    c.advance_to(EPOCH + 1);
    let ch = get_deal(&c.c.store, &deal).unwrap().unwrap().challenge.expect("a challenge");
    assert_eq!(ch.deadline, EPOCH + 1 + RESPONSE);
    let i = ch.index;
    let wrong = (i + 1) % 5;
    let path = chunk_proof(&parts, i).unwrap();
    let mut bad = path.clone();
    bad[0].0[0] ^= 1;
    // Five chunks: chunk i's path has the length the count gives; one hash more or less
    // is refused.
    let mut longer = path.clone();
    longer.push(path[0]);
    let shorter = path[..path.len() - 1].to_vec();
    c.advance_to(ch.deadline - 1);
    let rs = c.send(
        &provider,
        vec![
            prove(wrong, chunk_proof(&parts, wrong).unwrap()),
            prove(i, bad),
            prove(i, longer),
            prove(i, shorter),
            prove(i, path),
        ],
    );
    assert_eq!(*failure(&rs[0]), TxFailure::WrongChunk { expected: i, got: wrong });
    for r in &rs[1..4] {
        assert_eq!(*failure(r), TxFailure::BadMerklePath { index: i });
    }
    assert_eq!(rs[4].status, TxStatus::Success, "{:?}", rs[4]);
    assert_eq!(rs[4].height, ch.deadline - 1, "answered in the last block allowed");
    let d = get_deal(&c.c.store, &deal).unwrap().unwrap();
    assert_eq!((d.proven_epochs, d.faults, d.challenge), (1, 0, None));

    // The next challenge, answered at its deadline: too late.
    c.advance_to(2 * EPOCH + 1);
    let ch = get_deal(&c.c.store, &deal).unwrap().unwrap().challenge.expect("a challenge");
    c.advance_to(ch.deadline);
    let late = prove(ch.index, chunk_proof(&parts, ch.index).unwrap());
    let r = c.send(&provider, vec![late]).remove(0);
    assert_eq!(r.height, ch.deadline);
    assert_eq!(*failure(&r), TxFailure::LateResponse { deadline: ch.deadline });
    c.advance_to(3 * EPOCH + 1);
    let d = get_deal(&c.c.store, &deal).unwrap().unwrap();
    assert_eq!((d.proven_epochs, d.faults), (1, 1), "the late answer counts as a miss");
}
