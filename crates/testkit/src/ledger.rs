//! Whole-state checks: the supply identity (every base unit is somewhere) and the credit
//! identity (every credit minted is held, escrowed or consumed, and so is its CRN value),
//! and buying credits at a known price.

use crate::chain::genesis;
use crate::net::{Net, START};
use cairn_app::accounts::{Account, Supply, get_account, get_supply};
use cairn_app::credits::value::{Escrowed, value_supply};
use cairn_app::state_key;
use cairn_state::{MemStore, StateRead as _, StateScan};
use cairn_types::device::{Device, EpochActivity};
use cairn_types::{Address, Amount, DeviceId, Keypair, Params, SignedTx, TxBody};

/// The prefix of every device record key.
pub fn device_prefix() -> Vec<u8> {
    let k = state_key::device(&DeviceId::ZERO);
    k[..k.len() - 32].to_vec()
}

/// Every device record in the store.
pub fn all_devices(store: &MemStore) -> Vec<Device> {
    store
        .scan_prefix(&device_prefix(), None, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(_, v)| cairn_types::device::device_of_record(&v).unwrap())
        .collect()
}

/// (sum of the balances of `addrs`, supply, sum of the bonds of all devices).
pub fn ledger(store: &MemStore, addrs: &[Address]) -> (Amount, Supply, Amount) {
    let balances = addrs.iter().map(|a| get_account(store, a).unwrap().balance).sum();
    let bonds = all_devices(store).iter().map(|d| d.bond).sum();
    (balances, get_supply(store).unwrap(), bonds)
}

/// Every account balance in the store.
pub fn all_balances(store: &MemStore) -> Amount {
    let k = state_key::account(&Address([0; 32]));
    store
        .scan_prefix(&k[..k.len() - 32], None, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(_, v)| borsh::from_slice::<Account>(&v).unwrap().balance)
        .sum()
}

/// The CRN of every current governance position.
pub fn all_positions(store: &MemStore) -> Amount {
    let k = state_key::gov_position(&Address([0; 32]));
    store
        .scan_prefix(&k[..k.len() - 32], None, usize::MAX)
        .unwrap()
        .into_iter()
        .filter_map(|(_, v)| {
            borsh::from_slice::<cairn_app::governance::PositionRecord>(&v).unwrap().current()
        })
        .map(|p| p.amount)
        .sum()
}

/// All balances + bonded + escrowed + staked + unclaimed + held + locked in governance
/// positions + proposal deposits = genesis + emitted − burned, the balances
/// of `keys` are all there is besides the treasury and the validator, and bonded = the sum
/// of all device bonds.
pub fn assert_supply_identity(store: &MemStore, keys: &[&Keypair]) {
    let addrs: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let (balances, s, bonds) = ledger(store, &addrs);
    let all = all_balances(store);
    let gov = cairn_app::governance::gov_state(store).unwrap();
    let parts =
        all + s.bonded + s.escrowed + s.staked + s.unclaimed + s.held + gov.locked + gov.deposits;
    assert_eq!(parts, s.total(), "supply identity: {s:?}, governance {gov:?}");
    assert_eq!(gov.locked, all_positions(store), "locked total vs positions");
    let others = get_account(store, &cairn_types::rewards::treasury_address()).unwrap().balance;
    assert!(balances + others <= all, "balances of the keys exceed all balances");
    assert_eq!(s.bonded, bonds, "bonded total vs device bonds");
}

/// The price at which one credit costs one base unit of CRN: $10 a CRN, $0.00001 a credit.
pub const UNIT_PRICE: u128 = 10_000_000_000;

/// `buyer` (listed as an oracle in genesis) reports [`UNIT_PRICE`] and burns `amount` CRN
/// for as many credits: two transactions for the next block.
pub fn buy_credits(n: &mut Net, buyer: &Keypair, amount: Amount) -> Vec<SignedTx> {
    vec![
        n.tx(buyer, TxBody::ReportPrice { nano_usd_per_crn: UNIT_PRICE }),
        n.tx(buyer, TxBody::MintCredits { to: buyer.address(), amount }),
    ]
}

/// A chain on which `consumer` (its one price oracle) and `provider` start with [`START`]
/// each, its parameters set by `edit`, and `consumer` has bought `credits` CRN worth of data
/// credits in block 1.
pub fn market(
    consumer: &Keypair,
    provider: &Keypair,
    credits: Amount,
    edit: impl FnOnce(&mut Params),
) -> Net {
    let mut g = genesis(&[consumer, provider], START);
    g.params.credits.oracles = vec![consumer.address()];
    edit(&mut g.params);
    let mut n = Net::new(&g);
    let buy = buy_credits(&mut n, consumer, credits);
    n.block(buy);
    n
}

pub fn credits_of(store: &MemStore, who: &Keypair) -> u128 {
    cairn_app::credits::balance(store, &who.address()).unwrap()
}

/// Credits minted = credits held + escrowed + consumed.
pub fn assert_credit_identity(store: &MemStore) {
    let k = state_key::credits(&Address([0; 32]));
    let held: u128 = store
        .scan_prefix(&k[..k.len() - 32], None, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(_, v)| borsh::from_slice::<u128>(&v).unwrap())
        .sum();
    let cs = cairn_app::credits::get_credit_supply(store).unwrap();
    assert_eq!(held + cs.escrowed + cs.consumed, cs.minted, "credit identity: {cs:?}");
    // Their CRN value: held + escrowed + paid onto devices' epoch records = minted.
    let sum = |prefix: &[u8], f: &dyn Fn(&[u8]) -> u128| -> u128 {
        store.scan_prefix(prefix, None, usize::MAX).unwrap().iter().map(|(_, v)| f(v)).sum()
    };
    let held = sum(b"crvalue/", &|v| borsh::from_slice::<u128>(v).unwrap());
    let escrowed = sum(b"escvalue/", &|v| borsh::from_slice::<Escrowed>(v).unwrap().value);
    let paid = sum(b"devep/", &|v| {
        let a: EpochActivity = borsh::from_slice(v).unwrap();
        a.paid_usage + a.paid_service
    }) + sum(&device_prefix(), &|v| {
        // The folded layout's activity records are in the device records (ADR 0037).
        let (_, state) = cairn_types::device::split_device_record(v).unwrap();
        state.map_or(0, |s| s.activity.iter().map(|(_, a)| a.paid_usage + a.paid_service).sum())
    });
    let vs = value_supply(store).unwrap();
    assert_eq!(escrowed, vs.escrowed, "value in escrow: {vs:?}");
    // Under the compact layout an epoch's records go once its windows pass (ADR 0036; over
    // the blocks after, from the cursor, before the watermark moves), and
    // what was paid onto them with them: the records kept hold part of it.
    let params = cairn_app::App::params(store).unwrap();
    if params.state_layout == cairn_types::genesis::StateLayout::Legacy
        || (store.get(&state_key::epochs_expired()).unwrap().is_none()
            && store.get(&state_key::expiry_cursor()).unwrap().is_none())
    {
        assert_eq!(paid, vs.paid, "value paid: {vs:?}");
    } else {
        assert!(paid <= vs.paid, "value paid {paid} on the records kept: {vs:?}");
    }
    assert_eq!(held + vs.escrowed + vs.paid, vs.minted, "credit value identity: {vs:?}");
}
